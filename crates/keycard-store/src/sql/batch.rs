//! Group commit on SQLite: writers that arrive together share one transaction and one commit.
//!
//! A SQLite commit with a rollback journal syncs the journal and the database, a few milliseconds
//! on this kind of disk, and writes are serialized: sixteen concurrent writers each waited for up to
//! sixteen commits (p99 14x one writer's). Here the writers of this process still run one at a time
//! (queued on a mutex, not in SQLite's busy handler), but a write that finishes while others wait
//! leaves the transaction open for them: each runs in a savepoint of its own, is reviewed there, and
//! the group commits once. A write is acknowledged only after the commit that holds it is durable;
//! if that commit fails, every write of the group fails, so no acknowledged write is ever lost.
//!
//! Each write still gets a revision of its own, bumped inside its savepoint, so revisions stay
//! gapless (a write that fails is rolled back to its savepoint, its revision with it) and a reader of
//! the log sees them in order. Who commits: a writer that finds nobody waiting behind it commits at
//! once; one that leaves the group open queues again, and commits the group when its turn comes if
//! nobody has by then (the one that queued first commits for those behind it, so a group is never
//! left open by writers that gave up waiting).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use keycard_core::change::{Change, Revision};
use keycard_core::ids::OrganizationId;
use keycard_core::model::Actor;
use keycard_core::store::Written;
use keycard_core::{Error, Result};
use sqlx::{Any, Executor as _, Transaction};
use tokio::sync::{Mutex, MutexGuard, oneshot};

use super::{SqlStore, WriteTx, unavailable};

/// The most writes one commit holds, so that a steady stream of writers still commits regularly.
const MOST_PER_COMMIT: usize = 64;

/// This process's writers on SQLite.
#[derive(Debug, Default)]
pub(super) struct Writers {
    group: Mutex<Group>,
    /// Writers queued for `group`: while any is, a finished write leaves the transaction open.
    waiting: AtomicUsize,
}

/// The open transaction and the writes in it that wait for its commit.
#[derive(Debug, Default)]
pub(super) struct Group {
    tx: Option<Transaction<'static, Any>>,
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    revision: Revision,
    recorded: Vec<Change>,
    committed: oneshot::Sender<Result<()>>,
}

/// Counts a writer as waiting while it queues for the group.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writers {
    async fn lock(&self) -> MutexGuard<'_, Group> {
        let _waiting = Waiting::new(&self.waiting);
        self.group.lock().await
    }

    fn anyone_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Holds off this process's writers, for a probe of the database's write lock; `None` when a
    /// group's transaction is open, which holds that lock already.
    pub(super) async fn quiet(&self) -> Option<MutexGuard<'_, Group>> {
        let group = self.lock().await;
        group.tx.is_none().then_some(group)
    }
}

/// The savepoint each write of a group runs in.
const SAVEPOINT: &str = "keycard_write";

/// How one write in a group ended, when its transaction is still usable.
enum Outcome<T> {
    /// It recorded changes under `revision`: released into the group, to be committed with it.
    Changed {
        value: T,
        revision: Revision,
        recorded: Vec<Change>,
    },
    /// It recorded nothing: rolled back to its savepoint, with its revision.
    Unchanged { value: T },
}

impl SqlStore {
    /// [`SqlStore::write`] on SQLite: the write joins the open group, or opens one.
    pub(super) async fn write_batched<T, F>(
        &self,
        actor: &Actor,
        org: OrganizationId,
        body: F,
    ) -> Result<Written<T>>
    where
        F: for<'w> FnOnce(&'w mut WriteTx) -> BoxFuture<'w, Result<T>>,
    {
        let writers = self.writers.clone();
        let mut group = writers.lock().await;
        if group.members.len() >= MOST_PER_COMMIT {
            self.commit_group(&mut group).await;
        }
        let tx = match group.tx.take() {
            Some(tx) => tx,
            None => self.pool.begin().await.map_err(unavailable)?,
        };
        // The revision committed before this group: what a write that changes nothing answers.
        let committed_before = group.members.first().map(|m| Revision(m.revision.0 - 1));
        let (tx, outcome) = self.in_savepoint(tx, actor, org, body).await;
        let Some(mut tx) = tx else {
            // The transaction broke: the group it held fails with it.
            let err = outcome.err().unwrap_or_else(lost);
            fail_group(&mut group, &err);
            return Err(err);
        };
        match outcome {
            Err(err) => {
                // This write is undone; the group goes on without it.
                if !group.members.is_empty() {
                    group.tx = Some(tx);
                }
                Err(err)
            }
            Ok(Outcome::Unchanged { value }) => {
                let revision = match committed_before {
                    Some(revision) => revision,
                    None => Revision(
                        sqlx::query_scalar("SELECT value FROM kc_revision")
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(unavailable)?,
                    ),
                };
                if !group.members.is_empty() {
                    group.tx = Some(tx);
                }
                Ok(Written { value, revision })
            }
            Ok(Outcome::Changed {
                value,
                revision,
                recorded,
            }) => {
                let (sender, receiver) = oneshot::channel();
                group.members.push(Member {
                    revision,
                    recorded,
                    committed: sender,
                });
                group.tx = Some(tx);
                if writers.anyone_waiting() && group.members.len() < MOST_PER_COMMIT {
                    // Leave the transaction open for the writers queued behind this one.
                    drop(group);
                    self.await_commit(receiver).await?;
                } else {
                    self.commit_group(&mut group).await;
                    drop(group);
                    receiver.await.unwrap_or_else(|_| Err(lost()))?;
                }
                Ok(Written { value, revision })
            }
        }
    }

    /// Holds off this process's writers, the open group committed first, for a write that runs
    /// in a transaction of its own (a rehearsal).
    pub(super) async fn alone(&self) -> MutexGuard<'_, Group> {
        let mut group = self.writers.lock().await;
        self.commit_group(&mut group).await;
        group
    }

    /// Runs one write in a savepoint of `tx`: bumps the revision, runs `body`, has the write
    /// reviewed, and releases the savepoint. A failed write is rolled back to its savepoint. The
    /// transaction comes back unless it broke.
    async fn in_savepoint<T, F>(
        &self,
        mut tx: Transaction<'static, Any>,
        actor: &Actor,
        org: OrganizationId,
        body: F,
    ) -> (Option<Transaction<'static, Any>>, Result<Outcome<T>>)
    where
        F: for<'w> FnOnce(&'w mut WriteTx) -> BoxFuture<'w, Result<T>>,
    {
        if let Err(err) = tx.execute(format!("SAVEPOINT {SAVEPOINT}").as_str()).await {
            return (None, Err(unavailable(err)));
        }
        let revision: i64 =
            match sqlx::query_scalar("UPDATE kc_revision SET value = value + 1 RETURNING value")
                .fetch_one(&mut *tx)
                .await
            {
                Ok(revision) => revision,
                Err(err) => return undo(tx, unavailable(err)).await,
            };
        let mut w = self.open_write(tx, Revision(revision), actor, org);
        let value = match body(&mut w).await {
            Ok(value) => value,
            Err(err) => return undo(w.tx, err).await,
        };
        if w.seq == 0 {
            // Nothing recorded: the revision it took goes back.
            return match undo::<Infallible>(w.tx, lost()).await {
                (Some(tx), _) => (Some(tx), Ok(Outcome::Unchanged { value })),
                (None, _) => (None, Err(lost())),
            };
        }
        if let Err(err) = w.reviewed().await {
            return undo(w.tx, err).await;
        }
        if let Err(err) =
            w.tx.execute(format!("RELEASE SAVEPOINT {SAVEPOINT}").as_str())
                .await
        {
            return (None, Err(unavailable(err)));
        }
        (
            Some(w.tx),
            Ok(Outcome::Changed {
                value,
                revision: w.revision,
                recorded: w.recorded,
            }),
        )
    }

    /// Waits until the commit holding this write is durable. If nobody has committed the group by
    /// the time this writer's turn comes again, it commits the group itself.
    async fn await_commit(&self, mut receiver: oneshot::Receiver<Result<()>>) -> Result<()> {
        tokio::select! {
            biased;
            done = &mut receiver => done.unwrap_or_else(|_| Err(lost())),
            mut group = self.writers.lock() => {
                if let Ok(done) = receiver.try_recv() {
                    return done;
                }
                self.commit_group(&mut group).await;
                drop(group);
                receiver.await.unwrap_or_else(|_| Err(lost()))
            }
        }
    }

    /// Commits the group's transaction and tells each of its writes how that went; a write's
    /// changes are handed to the recent-changes cache only once committed.
    async fn commit_group(&self, group: &mut Group) {
        let members = std::mem::take(&mut group.members);
        let Some(tx) = group.tx.take() else {
            fail(members, &lost());
            return;
        };
        if members.is_empty() {
            // Nothing to keep: the transaction is rolled back as it is dropped.
            drop(tx);
            return;
        }
        match tx.commit().await {
            Ok(()) => {
                for member in members {
                    self.recent.committed(member.revision, member.recorded);
                    let _ = member.committed.send(Ok(()));
                }
            }
            Err(err) => fail(members, &unavailable(err)),
        }
    }
}

/// Rolls a failed write back to its savepoint; the transaction comes back unless that failed too.
async fn undo<T>(
    mut tx: Transaction<'static, Any>,
    err: Error,
) -> (Option<Transaction<'static, Any>>, Result<T>) {
    let rolled_back = tx
        .execute(
            format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}").as_str(),
        )
        .await;
    match rolled_back {
        Ok(_) => (Some(tx), Err(err)),
        Err(_) => (None, Err(err)),
    }
}

/// The group's transaction is gone: each of its writes fails with `err`.
fn fail_group(group: &mut Group, err: &Error) {
    group.tx = None;
    fail(std::mem::take(&mut group.members), err);
}

fn fail(members: Vec<Member>, err: &Error) {
    for member in members {
        let _ = member.committed.send(Err(err.clone()));
    }
}

fn lost() -> Error {
    Error::Unavailable("the write's commit was lost; retry".into())
}
