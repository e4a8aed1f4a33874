//! `keycard apply -f FILE [--dry-run] [--prune]`: makes a server's organization match a directory
//! file, and prints the plan it ran (or, with `--dry-run`, would run).
//!
//! The file is streamed, never held: a first read counts its entries and notes the few names the
//! run needs (with `--prune`, the name of every entry); then each kind is read again, in the order
//! entries refer to each other, and sent in batches to `POST /v1/directory/batch`, one
//! transaction each, where the server compares every entry with what it holds and writes only
//! what differs. A file already matched makes no write at all. A dry run sends the same batches
//! to be judged and rolled back; each batch is told which names earlier ones would have made.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context as _, anyhow};
use keycard_core::directory::{
    Applied, Catalogue, DirectoryBatch, DirectoryFile, Ensure, EntryKind, ResourceKey, Step, Verb,
};
use keycard_core::model::{Method, View};
use keycard_core::names::{ActionName, GroupName, OrganizationName};
use reqwest::Method as Http;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Client, segment};
use crate::directory_export::export;
use crate::directory_stream::{DirectoryStream, Piece, pieces_of};
use crate::progress::Progress;

/// Where the directory comes from: a file, read as a stream, or one already in memory.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    File(&'a Path),
    Memory(&'a DirectoryFile),
}

type Pieces<'a> = Box<dyn Iterator<Item = anyhow::Result<Piece>> + 'a>;

impl<'a> Source<'a> {
    /// Its pieces; with `only`, just the entries of that kind (`None`: just the header).
    fn pieces(self, only: Option<Option<EntryKind>>) -> anyhow::Result<Pieces<'a>> {
        Ok(match self {
            Source::File(path) => {
                let stream = DirectoryStream::open(path)?;
                Box::new(match only {
                    Some(only) => stream.only(only),
                    None => stream,
                })
            }
            Source::Memory(file) => Box::new(
                pieces_of(file)
                    .filter(move |piece| only.is_none_or(|only| piece.kind() == only))
                    .map(Ok),
            ),
        })
    }
}

/// What a first read of the file finds: its header, how many entries of each kind, and the names
/// the rest of the run needs.
#[derive(Default)]
pub struct Survey {
    pub organization: Option<OrganizationName>,
    actions: Option<Vec<ActionName>>,
    catalogue: Option<Catalogue>,
    counts: BTreeMap<EntryKind, usize>,
    /// With `--prune`, every entry's name by kind: what stays.
    names: HashMap<EntryKind, HashSet<String>>,
    /// Groups another is inside before their own entry comes: made first, bare.
    forward_groups: Vec<GroupName>,
}

/// An entry's name as a plan and a deletion name it.
fn name_of(piece: &Piece) -> String {
    match piece {
        Piece::Role(role) => role.name.to_string(),
        Piece::Group(group) => group.name.to_string(),
        Piece::Account(account) => account.username.to_string(),
        Piece::Policy(policy) => policy.name.to_string(),
        Piece::Resource(resource) => resource.key(),
        Piece::Organization(_) | Piece::Actions(_) | Piece::Catalogue(_) => String::new(),
    }
}

/// Reads the directory once, holding names only.
pub fn survey(source: Source<'_>, prune: bool) -> anyhow::Result<Survey> {
    let mut survey = Survey::default();
    let mut groups = HashSet::new();
    let mut named_early = BTreeSet::new();
    for piece in source.pieces(None)? {
        let piece = piece?;
        if let Some(kind) = piece.kind() {
            *survey.counts.entry(kind).or_default() += 1;
            if prune {
                let fresh = survey
                    .names
                    .entry(kind)
                    .or_default()
                    .insert(name_of(&piece));
                if !fresh {
                    return Err(anyhow!(
                        "{} `{}` is listed twice",
                        kind.as_str(),
                        name_of(&piece)
                    ));
                }
            }
        }
        match piece {
            Piece::Organization(name) => survey.organization = Some(name),
            Piece::Actions(actions) => survey.actions = Some(actions),
            Piece::Catalogue(catalogue) => survey.catalogue = Some(catalogue),
            Piece::Group(group) => {
                for parent in &group.inside {
                    if !groups.contains(parent.as_str()) {
                        named_early.insert(parent.clone());
                    }
                }
                groups.insert(group.name.to_string());
            }
            _ => {}
        }
    }
    survey.forward_groups = named_early
        .into_iter()
        .filter(|group| groups.contains(group.as_str()))
        .collect();
    Ok(survey)
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub prune: bool,
    pub dry_run: bool,
}

/// What a run did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// The revision of the last write, when anything was written.
    pub revision: Option<i64>,
}

/// The most entries in one batch.
const BATCH_ENTRIES: usize = 1_000;
/// The most entries, deletions and references in one batch: well below the server's limit.
const BATCH_WEIGHT: usize = 20_000;
/// The most bytes of JSON in one batch: well below the server's body limit.
const BATCH_BYTES: usize = 2 * 1024 * 1024;
/// The most names one deletion batch carries.
const DELETIONS_PER_BATCH: usize = 5_000;

/// One run against a server.
struct Run<'r> {
    client: &'r Client,
    options: Options,
    report: Report,
    show: &'r mut dyn FnMut(&Step),
    /// Names this run made (or, in a dry run, would make): in a dry run, each later batch is told
    /// of those it names; and a bare group made first is not listed again when its entry fills it.
    made: HashSet<(EntryKind, String)>,
    /// In a dry run, the deletions `--prune` would make, sent again with every batch (when they
    /// fit in one), so that each is judged after them as the real run's would be.
    deleted: Option<keycard_core::directory::Deletions>,
}

#[derive(Deserialize)]
struct Answer {
    revision: i64,
    #[serde(flatten)]
    applied: Applied,
}

impl Run<'_> {
    fn step(&mut self, step: Step) {
        let key = (step.kind, step.name.clone());
        if self.made.contains(&key) && step.verb != Verb::Delete {
            return;
        }
        match step.verb {
            Verb::Create => self.report.created += 1,
            Verb::Update => self.report.updated += 1,
            Verb::Delete => self.report.deleted += 1,
        }
        (self.show)(&step);
    }

    fn wrote(&mut self, answer: &Value) {
        if !self.options.dry_run
            && let Some(revision) = answer["revision"].as_i64()
        {
            self.report.revision = Some(revision);
        }
    }

    /// Sends one batch; `remember` keeps the names it makes.
    async fn send(&mut self, mut batch: DirectoryBatch, remember: bool) -> anyhow::Result<()> {
        batch.dry_run = self.options.dry_run;
        let replayed = match &self.deleted {
            Some(deleted) if batch.delete.is_empty() => {
                batch.delete = deleted.clone();
                true
            }
            _ => false,
        };
        if self.options.dry_run {
            self.assume_made(&mut batch);
        }
        let body = serde_json::to_value(&batch)?;
        let answer = self.client.post("/v1/directory/batch", &body).await?;
        let parsed: Answer = serde_json::from_value(answer.clone())
            .context("the server answered the batch in an unknown shape")?;
        self.report.unchanged += parsed.applied.unchanged;
        for step in parsed.applied.steps {
            if replayed && step.verb == Verb::Delete {
                continue;
            }
            let key = (step.kind, step.name.clone());
            let made = step.verb == Verb::Create && (remember || self.options.dry_run);
            self.step(step);
            if made {
                self.made.insert(key);
            }
        }
        if parsed.revision > 0 {
            self.wrote(&answer);
        }
        Ok(())
    }

    /// In a dry run, tells the batch which of the names it refers to earlier batches made.
    fn assume_made(&self, batch: &mut DirectoryBatch) {
        let made = |kind: EntryKind, name: &str| self.made.contains(&(kind, name.to_owned()));
        let entries = &batch.entries;
        let mut ensure = Ensure::default();
        let roles = entries
            .groups
            .iter()
            .flat_map(|group| &group.roles)
            .chain(entries.accounts.iter().flat_map(|account| &account.roles))
            .chain(
                entries
                    .policies
                    .iter()
                    .flat_map(|policy| &policy.actions)
                    .flat_map(|grant| &grant.roles),
            );
        ensure.roles = roles
            .filter(|role| made(EntryKind::Role, role.as_str()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let groups = entries
            .groups
            .iter()
            .flat_map(|group| &group.inside)
            .chain(entries.accounts.iter().flat_map(|account| &account.groups));
        ensure.groups.extend(
            groups
                .filter(|group| made(EntryKind::Group, group.as_str()))
                .cloned()
                .collect::<BTreeSet<_>>(),
        );
        ensure.accounts = entries
            .resources
            .iter()
            .filter_map(|resource| resource.owner.as_ref())
            .filter(|owner| made(EntryKind::Account, owner.as_str()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut bare = std::mem::take(&mut batch.ensure.groups);
        bare.extend(ensure.groups);
        bare.sort();
        bare.dedup();
        ensure.groups = bare;
        batch.ensure = ensure;
    }

    /// The organization's actions, when the file lists them.
    async fn actions(&mut self, survey: &Survey) -> anyhow::Result<()> {
        let Some(wanted) = &survey.actions else {
            return Ok(());
        };
        let me = self.client.get("/v1/me").await?;
        let organization = &me["organization"];
        let mut current: Vec<ActionName> =
            serde_json::from_value(organization["actions"].clone()).unwrap_or_default();
        current.sort();
        let mut wanted = wanted.clone();
        wanted.sort();
        wanted.dedup();
        if current == wanted {
            return Ok(());
        }
        self.step(Step {
            verb: Verb::Update,
            kind: EntryKind::Organization,
            name: "actions".into(),
        });
        if !self.options.dry_run {
            let id = organization["id"].as_str().unwrap_or_default();
            let answer = self
                .client
                .send(
                    Http::PATCH,
                    &format!("/v1/organizations/{}", segment(id)),
                    Some(&json!({ "actions": wanted })),
                )
                .await
                .context("updating the organization's actions")?;
            self.wrote(&answer);
        }
        Ok(())
    }

    /// The catalogue: what the file lists is added or replaced; with `--prune`, what it does not
    /// list is deleted (after the entries, which may stop naming it).
    async fn catalogue(&mut self, survey: &Survey) -> anyhow::Result<(Vec<Method>, Vec<View>)> {
        let (methods, views) = self.current_catalogue().await?;
        let wanted = survey.catalogue.clone().unwrap_or_default();
        let have_methods: HashMap<String, &Method> = methods.iter().map(|m| (m.key(), m)).collect();
        let have_views: HashMap<String, &View> = views.iter().map(|v| (v.key(), v)).collect();
        let mut changed = Catalogue::default();
        for method in &wanted.methods {
            match have_methods.get(&method.key()) {
                Some(existing) if *existing == method => continue,
                existing => self.step(Step {
                    verb: if existing.is_some() {
                        Verb::Update
                    } else {
                        Verb::Create
                    },
                    kind: EntryKind::Method,
                    name: method.key(),
                }),
            }
            changed.methods.push(method.clone());
        }
        for view in &wanted.views {
            match have_views.get(&view.key()) {
                Some(existing) if *existing == view => continue,
                existing => self.step(Step {
                    verb: if existing.is_some() {
                        Verb::Update
                    } else {
                        Verb::Create
                    },
                    kind: EntryKind::View,
                    name: view.key(),
                }),
            }
            changed.views.push(view.clone());
        }
        if !changed.is_empty() && !self.options.dry_run {
            let answer = self
                .client
                .post(
                    "/v1/catalogue",
                    &json!({"methods": changed.methods, "views": changed.views}),
                )
                .await
                .context("importing the catalogue")?;
            self.wrote(&answer);
        }
        let listed_methods: HashSet<String> = wanted.methods.iter().map(Method::key).collect();
        let listed_views: HashSet<String> = wanted.views.iter().map(View::key).collect();
        Ok((
            methods
                .into_iter()
                .filter(|method| !listed_methods.contains(&method.key()))
                .collect(),
            views
                .into_iter()
                .filter(|view| !listed_views.contains(&view.key()))
                .collect(),
        ))
    }

    /// The catalogue as the server holds it, without the `Authorization` entries every
    /// organization is born with.
    async fn current_catalogue(&self) -> anyhow::Result<(Vec<Method>, Vec<View>)> {
        let own = |item: &Value| item["provenance"] != keycard_core::builtin::AUTHORIZATION_APP;
        let methods = self.client.all("/v1/catalogue/methods", &[]).await?;
        let views = self.client.all("/v1/catalogue/views", &[]).await?;
        let methods = methods
            .into_iter()
            .filter(own)
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .context("reading the catalogue's methods")?;
        let views = views
            .into_iter()
            .filter(own)
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .context("reading the catalogue's views")?;
        Ok((methods, views))
    }

    /// Deletes the catalogue entries the file no longer lists.
    async fn prune_catalogue(
        &mut self,
        methods: Vec<Method>,
        views: Vec<View>,
    ) -> anyhow::Result<()> {
        for method in methods {
            self.step(Step {
                verb: Verb::Delete,
                kind: EntryKind::Method,
                name: method.key(),
            });
            if !self.options.dry_run {
                let path = format!(
                    "/v1/catalogue/methods/{}/{}",
                    segment(method.provenance.as_str()),
                    segment(&method.name)
                );
                let answer = self.client.send(Http::DELETE, &path, None).await?;
                self.wrote(&answer);
            }
        }
        for view in views {
            self.step(Step {
                verb: Verb::Delete,
                kind: EntryKind::View,
                name: view.key(),
            });
            if !self.options.dry_run {
                let path = format!(
                    "/v1/catalogue/views?provenance={}&path={}",
                    segment(view.provenance.as_str()),
                    segment(&view.path)
                );
                let answer = self.client.send(Http::DELETE, &path, None).await?;
                self.wrote(&answer);
            }
        }
        Ok(())
    }

    /// Deletes the entries the server holds that the file does not list (never the signed-in
    /// account), before anything is made: what the file adds may take a name or an email they
    /// free. It reads the organization's entries from the server.
    async fn prune(&mut self, survey: &Survey) -> anyhow::Result<()> {
        let current = export(self.client).await?;
        let me = self.client.get("/v1/me").await?;
        let own = me["account"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let gone = |kind: EntryKind, name: &str| {
            !survey
                .names
                .get(&kind)
                .is_some_and(|names| names.contains(name))
        };
        let mut batches: Vec<DirectoryBatch> = Vec::new();
        let mut add = |fill: &mut dyn FnMut(&mut DirectoryBatch)| {
            if batches
                .last()
                .is_none_or(|batch| batch.delete.len() >= DELETIONS_PER_BATCH)
            {
                batches.push(DirectoryBatch::default());
            }
            if let Some(batch) = batches.last_mut() {
                fill(batch);
            }
        };
        for resource in current
            .resources
            .iter()
            .filter(|resource| gone(EntryKind::Resource, &resource.key()))
        {
            add(&mut |batch| {
                batch.delete.resources.push(ResourceKey {
                    resource_type: resource.resource_type.clone(),
                    id: resource.id.clone(),
                })
            });
        }
        for policy in current
            .policies
            .iter()
            .filter(|policy| gone(EntryKind::Policy, policy.name.as_str()))
        {
            add(&mut |batch| batch.delete.policies.push(policy.name.clone()));
        }
        for account in current.accounts.iter().filter(|account| {
            gone(EntryKind::Account, account.username.as_str())
                && account.username.as_str().to_lowercase() != own
        }) {
            add(&mut |batch| batch.delete.accounts.push(account.username.clone()));
        }
        for group in current
            .groups
            .iter()
            .filter(|group| gone(EntryKind::Group, group.name.as_str()))
        {
            add(&mut |batch| batch.delete.groups.push(group.name.clone()));
        }
        for role in current
            .roles
            .iter()
            .filter(|role| gone(EntryKind::Role, role.name.as_str()))
        {
            add(&mut |batch| batch.delete.roles.push(role.name.clone()));
        }
        let replay = self.options.dry_run && batches.len() == 1;
        for batch in batches {
            if replay {
                self.deleted = Some(batch.delete.clone());
            }
            self.send(batch, false)
                .await
                .context("deleting what the file does not list")?;
        }
        Ok(())
    }
}

/// A batch being filled.
#[derive(Default)]
struct Pending {
    batch: DirectoryBatch,
    count: usize,
    weight: usize,
    bytes: usize,
}

impl Pending {
    fn push(&mut self, piece: Piece) -> anyhow::Result<()> {
        let entries = &mut self.batch.entries;
        self.count += 1;
        self.weight += 1;
        self.bytes += match piece {
            Piece::Role(role) => {
                self.weight += role.methods.len() + role.views.len();
                let bytes = serde_json::to_vec(&role)?.len();
                entries.roles.push(role);
                bytes
            }
            Piece::Group(group) => {
                self.weight += group.roles.len() + group.inside.len();
                let bytes = serde_json::to_vec(&group)?.len();
                entries.groups.push(group);
                bytes
            }
            Piece::Account(account) => {
                self.weight += account.roles.len() + account.groups.len();
                let bytes = serde_json::to_vec(&account)?.len();
                entries.accounts.push(account);
                bytes
            }
            Piece::Policy(policy) => {
                self.weight += policy.resources.len()
                    + policy.actions.iter().map(|g| g.roles.len()).sum::<usize>();
                let bytes = serde_json::to_vec(&policy)?.len();
                entries.policies.push(policy);
                bytes
            }
            Piece::Resource(resource) => {
                let bytes = serde_json::to_vec(&resource)?.len();
                entries.resources.push(resource);
                bytes
            }
            Piece::Organization(_) | Piece::Actions(_) | Piece::Catalogue(_) => 0,
        };
        Ok(())
    }

    fn full(&self) -> bool {
        self.count >= BATCH_ENTRIES || self.weight >= BATCH_WEIGHT || self.bytes >= BATCH_BYTES
    }

    fn take(&mut self) -> (DirectoryBatch, usize) {
        let count = self.count;
        let batch = std::mem::take(&mut self.batch);
        *self = Pending::default();
        (batch, count)
    }
}

/// Makes the organization the client names when the server lacks it, as a partner may (with the
/// file's actions); in a dry run, only says so. Answers whether it was missing. A caller who may
/// not list organizations goes on, and the server answers for the organization.
async fn make_organization(
    client: &Client,
    survey: &Survey,
    options: Options,
    show: &mut dyn FnMut(&Step),
) -> anyhow::Result<bool> {
    let Some(name) = client.organization() else {
        return Ok(false);
    };
    let partner = client.without_organization();
    let Ok(organizations) = partner.all("/v1/organizations", &[]).await else {
        return Ok(false);
    };
    let named = |org: &Value| org["name"] == name || org["id"] == name;
    if organizations.iter().any(named) {
        return Ok(false);
    }
    show(&Step {
        verb: Verb::Create,
        kind: EntryKind::Organization,
        name: name.to_owned(),
    });
    if !options.dry_run {
        let mut body = json!({ "name": name });
        if let Some(actions) = &survey.actions {
            body["actions"] = json!(actions);
        }
        partner
            .post("/v1/organizations", &body)
            .await
            .with_context(|| format!("creating organization `{name}`"))?;
    }
    Ok(true)
}

/// A dry run for an organization the server does not hold yet: every entry would be created.
fn plan_all_new(
    source: Source<'_>,
    survey: &Survey,
    show: &mut dyn FnMut(&Step),
) -> anyhow::Result<Report> {
    let mut report = Report {
        created: 1,
        ..Report::default()
    };
    if let Some(catalogue) = &survey.catalogue {
        let methods = catalogue
            .methods
            .iter()
            .map(|m| (EntryKind::Method, m.key()));
        let views = catalogue.views.iter().map(|v| (EntryKind::View, v.key()));
        for (kind, name) in methods.chain(views) {
            show(&Step {
                verb: Verb::Create,
                kind,
                name,
            });
            report.created += 1;
        }
    }
    for piece in source.pieces(None)? {
        let piece = piece?;
        if let Some(kind) = piece.kind() {
            show(&Step {
                verb: Verb::Create,
                kind,
                name: name_of(&piece),
            });
            report.created += 1;
        }
    }
    Ok(report)
}

/// Applies the directory to the organization the client acts in; `show` is handed each step of
/// the plan as it is made.
pub async fn apply(
    client: &Client,
    source: Source<'_>,
    survey: &Survey,
    options: Options,
    show: &mut dyn FnMut(&Step),
) -> anyhow::Result<Report> {
    let made = make_organization(client, survey, options, show).await?;
    if made && options.dry_run {
        return plan_all_new(source, survey, show);
    }
    let mut run = Run {
        client,
        options,
        report: Report::default(),
        show,
        made: HashSet::new(),
        deleted: None,
    };
    if made {
        run.report.created += 1;
    }
    run.actions(survey).await?;
    let (unlisted_methods, unlisted_views) = run.catalogue(survey).await?;
    if options.prune {
        run.prune(survey).await?;
    }
    let total = survey.counts.values().sum();
    let mut progress = Progress::new("entries", total);
    for groups in survey.forward_groups.chunks(DELETIONS_PER_BATCH) {
        let batch = DirectoryBatch {
            ensure: Ensure {
                groups: groups.to_vec(),
                ..Ensure::default()
            },
            ..DirectoryBatch::default()
        };
        run.send(batch, true)
            .await
            .context("making the groups others are inside")?;
    }
    for kind in [
        EntryKind::Role,
        EntryKind::Group,
        EntryKind::Account,
        EntryKind::Policy,
        EntryKind::Resource,
    ] {
        if !survey.counts.contains_key(&kind) {
            continue;
        }
        let mut pending = Pending::default();
        let mut sent = 0;
        let mut pieces = source.pieces(Some(Some(kind)))?;
        loop {
            let piece = pieces.next().transpose()?;
            let last = piece.is_none();
            if let Some(piece) = piece {
                pending.push(piece)?;
            }
            if pending.count > 0 && (last || pending.full()) {
                let (batch, count) = pending.take();
                run.send(batch, false).await.with_context(|| {
                    format!(
                        "applying {}s {} to {}",
                        kind.as_str(),
                        sent + 1,
                        sent + count
                    )
                })?;
                sent += count;
                progress.advance(count);
            }
            if last {
                break;
            }
        }
    }
    progress.finish();
    if options.prune {
        run.prune_catalogue(unlisted_methods, unlisted_views)
            .await?;
    }
    Ok(run.report)
}
