//! What every handler shares: the store, the published snapshot and the server's settings.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use keycard_core::change::Revision;
use keycard_core::ids::OrganizationId;
use keycard_core::model::{self, Actor, NewAccount};
use keycard_core::names::{OrganizationName, Provenance, Username};
use keycard_core::secret;
use keycard_core::snapshot::{OrgSnapshot, Snapshot, SnapshotBuilder};
use keycard_core::store::{StateItem, Store};
use keycard_core::{Error, Result};
use tokio::sync::Mutex;

use crate::metrics::Metrics;

/// Settings that change how the server behaves (not where it listens).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// How often the snapshot looks for changes written by other processes.
    pub follow_interval: Duration,
    /// The URL clients reach the server at, when configured.
    pub public_url: Option<crate::origin::PublicUrl>,
    /// Reverse proxies whose `X-Forwarded-Proto` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The decision log; off when `None`.
    pub decision_log: Option<crate::decision_log::DecisionLogSettings>,
    /// The hosts webhooks may reach (`KEYCARD_WEBHOOK_ALLOW_HOSTS`); none by default.
    pub webhook_allow_hosts: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(8 * 3600),
            body_limit: 4 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            follow_interval: Duration::from_millis(500),
            public_url: None,
            trusted_proxies: Vec::new(),
            decision_log: None,
            webhook_allow_hosts: Vec::new(),
        }
    }
}

/// The shared state behind every request. Extractors and middleware clone it several times per
/// request, so a clone is one reference count (counts shared by every core are what a request
/// pays for, not the copying).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub struct SharedState {
    /// Every operation: the faces' only way to the store and the snapshot.
    pub app: crate::app::App,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// The decision log, when it is on.
    decision_log: Option<crate::decision_log::DecisionLog>,
}

impl AppState {
    /// Loads the snapshot from the store and builds the state. The store must be bootstrapped.
    pub async fn load(store: Arc<dyn Store>, settings: Settings) -> Result<Self> {
        let default_name = OrganizationName::try_from(model::DEFAULT_ORGANIZATION)?;
        let default_organization = store
            .find_organization(&default_name)
            .await?
            .ok_or_else(|| {
                Error::Internal(
                    "the store has no `default` organization; run bootstrap first".into(),
                )
            })?
            .id;
        let snapshot = Arc::new(SnapshotHandle::load(store.clone()).await?);
        let metrics = Arc::new(Metrics::default());
        let decision_log = match &settings.decision_log {
            Some(log) => {
                log.validate()?;
                Some(
                    crate::decision_log::DecisionLog::start(
                        log,
                        metrics.decision_log_dropped.clone(),
                    )
                    .map_err(|err| {
                        Error::invalid("decision log", format!("cannot be opened: {err}"))
                    })?,
                )
            }
            None => None,
        };
        Ok(Self(Arc::new(SharedState {
            app: crate::app::App::new(store, snapshot, default_organization, settings.session_ttl)
                .with_webhook_hosts(settings.webhook_allow_hosts.clone()),
            settings: Arc::new(settings),
            metrics,
            decision_log,
        })))
    }

    /// Counts a decision, and writes it to the decision log when that is on.
    pub fn decided(&self, decided: &crate::decision_log::Decided<'_>) {
        self.metrics.decided(decided.allowed);
        if let Some(log) = &self.decision_log {
            log.record(decided);
        }
    }
}

/// The published snapshot and the lock that serializes bringing it up to date.
pub struct SnapshotHandle {
    /// Shared with the store, which reviews writes against it (`Store::review_writes`).
    current: Arc<ArcSwap<Snapshot>>,
    store: Arc<dyn Store>,
    sync: Mutex<()>,
    /// Verified API keys; entries are dropped as the change log reports changes to them.
    pub keys: KeyCache,
    /// The revision of the published snapshot, for whoever waits for the log to move (watches).
    revision: tokio::sync::watch::Sender<Revision>,
}

/// An API key as last read from the store.
#[derive(Clone, Debug)]
pub struct CachedKey {
    pub organization: OrganizationId,
    /// The account the key acts as; none for a decision key.
    pub account: Option<keycard_core::ids::AccountId>,
    /// Shared, so that a request's copy of the entry costs a reference count.
    pub secret_hash: Arc<str>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Live API keys by id, so that a request authenticated with a key reads no SQL. A key revoked on
/// any node is a change in the log: applying it drops the entry here. The generation counter
/// keeps a read that raced with such a change from caching what it read.
#[derive(Default)]
pub struct KeyCache {
    entries: std::sync::RwLock<std::collections::HashMap<keycard_core::ids::ApiKeyId, CachedKey>>,
    generation: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    pub fn get(&self, id: keycard_core::ids::ApiKeyId) -> Option<CachedKey> {
        self.entries
            .read()
            .ok()
            .and_then(|entries| entries.get(&id).cloned())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn insert_if_unchanged(
        &self,
        id: keycard_core::ids::ApiKeyId,
        key: CachedKey,
        generation: u64,
    ) {
        if let Ok(mut entries) = self.entries.write()
            && self.generation() == generation
        {
            entries.insert(id, key);
        }
    }

    pub fn touched(&self, id: keycard_core::ids::ApiKeyId, at: chrono::DateTime<chrono::Utc>) {
        if let Ok(mut entries) = self.entries.write()
            && let Some(entry) = entries.get_mut(&id)
        {
            entry.last_used_at = Some(at);
        }
    }

    /// Forgets keys the log says changed, and invalidates reads in flight.
    fn forget(&self, changes: &[keycard_core::change::Change]) {
        let changed: Vec<&str> = changes
            .iter()
            .filter(|change| change.entity == keycard_core::change::EntityKind::ApiKey)
            .map(|change| change.entity_id.as_str())
            .collect();
        if changed.is_empty() {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for id in changed {
                if let Ok(id) = id.parse() {
                    entries.remove(&id);
                }
            }
        }
    }
}

/// How many revisions one catch-up step reads from the log.
const CATCH_UP_BATCH: u32 = 1000;

impl SnapshotHandle {
    /// Reads the state from the store and builds the snapshot at the same time: the build runs
    /// on its own thread, fed as rows arrive, so loading takes about as long as the read alone.
    pub async fn load(store: Arc<dyn Store>) -> Result<Self> {
        let (pieces, received) = std::sync::mpsc::sync_channel::<StateItem>(4096);
        let builder = std::thread::Builder::new()
            .name("snapshot-build".into())
            .spawn(move || -> Result<Snapshot> {
                let mut builder = SnapshotBuilder::default();
                for item in received {
                    builder.add(item)?;
                }
                Ok(builder.finish())
            })
            .map_err(|err| Error::Internal(format!("cannot start the snapshot build: {err}")))?;
        // A full channel blocks this task until the builder catches up: the read never runs far
        // ahead of the build.
        let read = store
            .read_state(&mut |item| {
                pieces
                    .send(item)
                    .map_err(|_| Error::Internal("the snapshot build stopped".into()))
            })
            .await;
        drop(pieces);
        let built = builder
            .join()
            .map_err(|_| Error::Internal("the snapshot build panicked".into()))?;
        // The builder's own error explains a failed send better than the send's.
        let snapshot = built?;
        read?;
        Ok(Self::with_snapshot(store, snapshot))
    }

    /// A handle on a snapshot already built from `store`, which it follows from then on.
    pub fn with_snapshot(store: Arc<dyn Store>, snapshot: Snapshot) -> Self {
        let revision = tokio::sync::watch::Sender::new(snapshot.revision());
        let current = Arc::new(ArcSwap::from_pointee(snapshot));
        let published = current.clone();
        store.review_writes(Arc::new(move || published.load_full()));
        Self {
            current,
            store,
            sync: Mutex::new(()),
            keys: KeyCache::default(),
            revision,
        }
    }

    /// Tells each time the published snapshot reaches a new revision.
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.revision.subscribe()
    }

    /// The snapshot decisions read now; no lock is taken.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies the change log up to at least `target`, publishing each step.
    pub async fn catch_up(&self, target: Revision) -> Result<()> {
        if self.current.load().revision() >= target {
            return Ok(());
        }
        let _guard = self.sync.lock().await;
        loop {
            let published = self.current.load_full();
            if published.revision() >= target {
                return Ok(());
            }
            let changes = self
                .store
                .changes_after(published.revision(), CATCH_UP_BATCH)
                .await?;
            if changes.is_empty() {
                return Ok(());
            }
            let mut next = (*published).clone();
            next.apply(&changes)?;
            self.keys.forget(&changes);
            let revision = next.revision();
            self.current.store(Arc::new(next));
            self.revision.send_replace(revision);
        }
    }

    /// Applies whatever the log holds beyond the snapshot, e.g. writes from another process.
    pub async fn follow(&self) -> Result<()> {
        let latest = self.store.latest_revision().await?;
        self.catch_up(latest).await
    }
}

/// Keeps the snapshot following the change log: at once when the store notifies a commit (any
/// node's, on PostgreSQL), and every `interval` regardless, which covers lost notifications and
/// stores that cannot notify. Ends when the handle is dropped elsewhere.
pub fn spawn_follower(
    handle: Arc<SnapshotHandle>,
    interval: Duration,
    mut notifications: Option<tokio::sync::watch::Receiver<i64>>,
) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(&handle);
    drop(handle);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            match notifications.as_mut() {
                Some(receiver) => tokio::select! {
                    _ = ticker.tick() => {}
                    changed = receiver.changed() => {
                        if changed.is_err() {
                            notifications = None;
                        }
                    }
                },
                None => {
                    ticker.tick().await;
                }
            }
            let Some(handle) = weak.upgrade() else { break };
            if let Err(err) = handle.follow().await {
                tracing::warn!(error = %err, "following the change log failed");
            }
        }
    })
}

/// What bootstrapping a store did.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// Set when the administrator's password was generated: it is shown once.
    pub generated_password: Option<String>,
    pub created: bool,
}

/// On an empty store, creates the `default` organization and an `admin` account holding `Admin`.
/// The password is `admin_password` if given, otherwise generated.
pub async fn bootstrap(store: &dyn Store, admin_password: Option<&str>) -> Result<Bootstrap> {
    let default_name = OrganizationName::try_from(model::DEFAULT_ORGANIZATION)?;
    if store.find_organization(&default_name).await?.is_some() {
        return Ok(Bootstrap::default());
    }
    let actor = Actor::system();
    let org = match store
        .create_organization(
            &actor,
            keycard_core::builtin::standard_organization(default_name)?,
        )
        .await
    {
        Ok(written) => written.value,
        // Another node bootstrapped first.
        Err(Error::Conflict { .. }) => return Ok(Bootstrap::default()),
        Err(err) => return Err(err),
    };
    let generated = admin_password.is_none().then(secret::generate_password);
    let password = admin_password.or(generated.as_deref()).unwrap_or_default();
    let hash = secret::hash_password(password)?;
    let admin_role = organization_role(store, org.id, model::ADMIN_ROLE).await?;
    store
        .create_account(
            &actor,
            org.id,
            NewAccount {
                username: Username::try_from("admin")?,
                email: None,
                first_name: keycard_core::names::FirstName::try_from("Administrator")?,
                provenance: Provenance::try_from(model::LOCAL_PROVENANCE)?,
                inactive: false,
                service_account: false,
                password_hash: Some(hash),
                roles: vec![admin_role],
                groups: Vec::new(),
                attributes: Default::default(),
            },
        )
        .await?;
    Ok(Bootstrap {
        generated_password: generated,
        created: true,
    })
}

/// Finds a system role of an organization by name.
pub async fn organization_role(
    store: &dyn Store,
    org: OrganizationId,
    name: &str,
) -> Result<keycard_core::ids::RoleId> {
    let roles =
        keycard_core::page::read_all(|page| async move { store.list_roles(org, &page).await })
            .await?;
    roles
        .into_iter()
        .find(|role| role.system && role.name.as_str() == name)
        .map(|role| role.id)
        .ok_or_else(|| Error::not_found("role", name))
}

/// Looks an organization snapshot up, for handlers that already hold a snapshot.
pub fn org_of(snapshot: &Snapshot, id: OrganizationId) -> Result<&OrgSnapshot> {
    snapshot
        .organization(id)
        .ok_or_else(|| Error::not_found("organization", id))
}
