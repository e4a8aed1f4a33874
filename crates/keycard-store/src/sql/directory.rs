//! A slice of a declarative directory applied as one write (see
//! [`keycard_core::directory::DirectoryBatch`]): entries are found by name, compared with what
//! the store holds, and created, changed or left alone, through the same steps as the
//! one-entity writes, so that each is validated, recorded and reviewed as they are.

use std::collections::HashMap;

use async_trait::async_trait;
use keycard_core::directory::{
    AccountEntry, Applied, DirectoryBatch, EntryKind, GroupEntry, PolicyEntry, RoleEntry, Step,
    Verb,
};
use keycard_core::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    Account, AccountPatch, Actor, Group, GroupPatch, NewAccount, NewGroup, NewPolicy, NewResource,
    NewRole, Policy, PolicyAction, PolicyPatch, Role, RolePatch, normalize_actions, sorted_unique,
};
use keycard_core::store::{DirectoryStore, Written};
use keycard_core::{Error, Result};

use super::rows::{self, load};
use super::{SqlStore, WriteTx, accounts, groups, internal, policies, resources, roles};

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn apply_directory(
        &self,
        actor: &Actor,
        org: OrganizationId,
        batch: DirectoryBatch,
    ) -> Result<Written<Applied>> {
        batch.validate()?;
        if batch.dry_run {
            self.rehearse(actor, org, move |w| Box::pin(apply(w, org, batch)))
                .await
        } else {
            self.write(actor, org, move |w| Box::pin(apply(w, org, batch)))
                .await
        }
    }
}

/// Ids by name of one kind, as this write finds and makes them.
struct Ids<Id> {
    kind: &'static str,
    table: &'static str,
    column: &'static str,
    known: HashMap<String, Id>,
}

impl<Id: std::str::FromStr<Err = Error> + Copy + Ord> Ids<Id> {
    fn new(kind: &'static str, table: &'static str, column: &'static str) -> Self {
        Self {
            kind,
            table,
            column,
            known: HashMap::new(),
        }
    }

    /// The id of the entity of this name (a username in any case, the exact spelling first).
    async fn find(
        &mut self,
        w: &mut WriteTx,
        org: OrganizationId,
        name: &str,
    ) -> Result<Option<Id>> {
        if let Some(id) = self.known.get(name) {
            return Ok(Some(*id));
        }
        let (table, column) = (self.table, self.column);
        let sql = if column == "username" {
            format!(
                "SELECT id FROM {table} WHERE organization_id = $1 AND lower({column}) = lower($2) \
                 ORDER BY CASE WHEN {column} = $2 THEN 0 ELSE 1 END LIMIT 1"
            )
        } else {
            format!("SELECT id FROM {table} WHERE organization_id = $1 AND {column} = $2")
        };
        let found: Option<String> = sqlx::query_scalar(&sql)
            .bind(org.to_string())
            .bind(name)
            .fetch_optional(w.conn())
            .await
            .map_err(internal)?;
        let id = found.map(|id| id.parse()).transpose()?;
        if let Some(id) = id {
            self.known.insert(name.to_owned(), id);
        }
        Ok(id)
    }

    /// The ids of what an entry (`by`) names, sorted; each must exist.
    async fn all_named(
        &mut self,
        w: &mut WriteTx,
        org: OrganizationId,
        names: &[impl AsRef<str>],
        by: &str,
    ) -> Result<Vec<Id>> {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let id = self.find(w, org, name).await?;
            ids.push(id.ok_or_else(|| missing(self.kind, name, by))?);
        }
        Ok(sorted_unique(ids))
    }

    fn made(&mut self, name: impl std::fmt::Display, id: Id) {
        self.known.insert(name.to_string(), id);
    }

    /// `err` with the ids it names replaced by their names, which are what the batch said.
    fn named_in(&self, err: Error) -> Error
    where
        Id: std::fmt::Display,
    {
        let name = |id: String| {
            self.known
                .iter()
                .find(|(_, known)| known.to_string() == id)
                .map_or(id, |(name, _)| name.clone())
        };
        match err {
            Error::Cycle { child, parent } => Error::Cycle {
                child: name(child),
                parent: name(parent),
            },
            other => other,
        }
    }

    fn forget(&mut self, name: &str) {
        self.known.remove(name);
    }
}

/// Ids by name of what entries refer to.
struct Names {
    roles: Ids<RoleId>,
    groups: Ids<GroupId>,
    accounts: Ids<AccountId>,
    policies: Ids<PolicyId>,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            roles: Ids::new("role", "roles", "name"),
            groups: Ids::new("group", "groups", "name"),
            accounts: Ids::new("account", "accounts", "username"),
            policies: Ids::new("policy", "policies", "name"),
        }
    }
}

/// A name an entry refers to that is neither in the store nor made by the batch.
fn missing(kind: &str, name: &str, by: &str) -> Error {
    Error::invalid(
        by.to_owned(),
        format!("{kind} `{name}` is neither in the directory nor on the server"),
    )
}

fn step(verb: Verb, kind: EntryKind, name: impl std::fmt::Display) -> Step {
    Step {
        verb,
        kind,
        name: name.to_string(),
    }
}

/// Applies `batch` within a write: what it ensures, deletions, then roles, groups, accounts,
/// policies and resources.
async fn apply(w: &mut WriteTx, org: OrganizationId, batch: DirectoryBatch) -> Result<Applied> {
    rows::load_organization(w.conn(), org).await?;
    let mut names = Names::default();
    let mut applied = Applied::default();
    ensure(w, org, &batch, &mut names, &mut applied).await?;
    delete(w, org, &batch, &mut names, &mut applied).await?;
    let entries = batch.entries;
    for role in entries.roles {
        apply_role(w, org, role, &mut names, &mut applied).await?;
    }
    apply_groups(w, org, entries.groups, &mut names, &mut applied).await?;
    // New accounts are made together, in a few statements: a batch may hold thousands.
    let mut fresh = Vec::new();
    for account in entries.accounts {
        if let Some(new) = apply_account(w, org, account, &mut names, &mut applied).await? {
            fresh.push(new);
        }
    }
    for account in accounts::insert_accounts(w, org, fresh).await? {
        names.accounts.made(&account.username, account.id);
        applied
            .steps
            .push(step(Verb::Create, EntryKind::Account, &account.username));
    }
    for policy in entries.policies {
        apply_policy(w, org, policy, &mut names, &mut applied).await?;
    }
    let mut wanted = Vec::with_capacity(entries.resources.len());
    let mut keys = Vec::with_capacity(entries.resources.len());
    for resource in entries.resources {
        let key = resource.key();
        let owner = match &resource.owner {
            Some(owner) => Some(
                names
                    .accounts
                    .find(w, org, owner.as_str())
                    .await?
                    .ok_or_else(|| {
                        missing("account", owner.as_str(), &format!("resource `{key}`"))
                    })?,
            ),
            None => None,
        };
        wanted.push(NewResource {
            resource_type: resource.resource_type,
            id: resource.id,
            owner,
            attributes: resource.attributes,
        });
        keys.push(key);
    }
    let done = resources::upsert(w, org, &wanted).await?;
    for (key, done) in keys.into_iter().zip(done) {
        match done {
            Some(verb) => applied.steps.push(step(verb, EntryKind::Resource, key)),
            None => applied.unchanged += 1,
        }
    }
    Ok(applied)
}

/// Makes, bare, what the batch ensures and the store lacks (see
/// [`keycard_core::directory::Ensure`]).
async fn ensure(
    w: &mut WriteTx,
    org: OrganizationId,
    batch: &DirectoryBatch,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<()> {
    for name in &batch.ensure.roles {
        if names.roles.find(w, org, name.as_str()).await?.is_none() {
            let role = SqlStore::insert_role(w, org, NewRole::custom(name.clone())).await?;
            names.roles.made(name.to_string(), role.id);
            applied
                .steps
                .push(step(Verb::Create, EntryKind::Role, name));
        }
    }
    for name in &batch.ensure.groups {
        if names.groups.find(w, org, name.as_str()).await?.is_none() {
            let group = groups::insert(w, org, NewGroup::local(name.clone())).await?;
            names.groups.made(name.to_string(), group.id);
            applied
                .steps
                .push(step(Verb::Create, EntryKind::Group, name));
        }
    }
    for name in &batch.ensure.accounts {
        if names.accounts.find(w, org, name.as_str()).await?.is_none() {
            let account = accounts::insert_account(w, org, NewAccount::local(name.clone())).await?;
            names.accounts.made(name.to_string(), account.id);
            applied
                .steps
                .push(step(Verb::Create, EntryKind::Account, name));
        }
    }
    Ok(())
}

/// Deletes what the batch names, what refers to others before what it refers to; a name the
/// store does not hold is already gone.
async fn delete(
    w: &mut WriteTx,
    org: OrganizationId,
    batch: &DirectoryBatch,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<()> {
    let gone = &batch.delete;
    for key in &gone.resources {
        if resources::find(w.conn(), org, &key.resource_type, &key.id)
            .await?
            .is_some()
        {
            resources::delete(w, org, key.resource_type.clone(), key.id.clone()).await?;
            let name = format!("{}/{}", key.resource_type, key.id);
            applied
                .steps
                .push(step(Verb::Delete, EntryKind::Resource, name));
        }
    }
    for name in &gone.policies {
        if let Some(id) = names.policies.find(w, org, name.as_str()).await? {
            policies::delete(w, org, id).await?;
            applied
                .steps
                .push(step(Verb::Delete, EntryKind::Policy, name));
        }
    }
    for name in &gone.accounts {
        if let Some(id) = names.accounts.find(w, org, name.as_str()).await? {
            accounts::delete(w, org, id).await?;
            names.accounts.forget(name.as_str());
            applied
                .steps
                .push(step(Verb::Delete, EntryKind::Account, name));
        }
    }
    for name in &gone.groups {
        if let Some(id) = names.groups.find(w, org, name.as_str()).await? {
            groups::delete(w, org, id).await?;
            names.groups.forget(name.as_str());
            applied
                .steps
                .push(step(Verb::Delete, EntryKind::Group, name));
        }
    }
    for name in &gone.roles {
        if let Some(id) = names.roles.find(w, org, name.as_str()).await? {
            roles::delete(w, org, id).await?;
            names.roles.forget(name.as_str());
            applied
                .steps
                .push(step(Verb::Delete, EntryKind::Role, name));
        }
    }
    Ok(())
}

async fn apply_role(
    w: &mut WriteTx,
    org: OrganizationId,
    entry: RoleEntry,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<()> {
    let methods = sorted_unique(entry.method_refs()?);
    let views = sorted_unique(entry.view_refs()?);
    match names.roles.find(w, org, entry.name.as_str()).await? {
        None => {
            let role = SqlStore::insert_role(
                w,
                org,
                NewRole {
                    description: entry.description,
                    methods,
                    views,
                    ..NewRole::custom(entry.name.clone())
                },
            )
            .await?;
            names.roles.made(entry.name.to_string(), role.id);
            applied
                .steps
                .push(step(Verb::Create, EntryKind::Role, &entry.name));
        }
        Some(id) => {
            let before = load::<Role>(w.conn(), org, id).await?;
            if before.description == entry.description
                && before.methods == methods
                && before.views == views
            {
                applied.unchanged += 1;
                return Ok(());
            }
            let patch = RolePatch {
                description: Some(entry.description),
                methods: Some(methods),
                views: Some(views),
                ..RolePatch::default()
            };
            roles::update(w, org, id, patch).await?;
            applied
                .steps
                .push(step(Verb::Update, EntryKind::Role, &entry.name));
        }
    }
    Ok(())
}

/// Groups in two passes: those the store lacks are made first (inside the groups that exist by
/// then), so that a group may be inside one that comes after it; then each is made to match.
async fn apply_groups(
    w: &mut WriteTx,
    org: OrganizationId,
    entries: Vec<GroupEntry>,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<()> {
    let mut made = Vec::with_capacity(entries.len());
    for entry in &entries {
        let by = format!("group `{}`", entry.name);
        if names
            .groups
            .find(w, org, entry.name.as_str())
            .await?
            .is_some()
        {
            made.push(false);
            continue;
        }
        let roles = names.roles.all_named(w, org, &entry.roles, &by).await?;
        let mut parents = Vec::new();
        for parent in &entry.inside {
            if let Some(id) = names.groups.find(w, org, parent.as_str()).await? {
                parents.push(id);
            }
        }
        let group = groups::insert(
            w,
            org,
            NewGroup {
                description: entry.description.clone(),
                inactive: entry.inactive,
                roles,
                parents,
                ..NewGroup::local(entry.name.clone())
            },
        )
        .await?;
        names.groups.made(entry.name.to_string(), group.id);
        applied
            .steps
            .push(step(Verb::Create, EntryKind::Group, &entry.name));
        made.push(true);
    }
    for (entry, made) in entries.into_iter().zip(made) {
        let by = format!("group `{}`", entry.name);
        let id = names
            .groups
            .find(w, org, entry.name.as_str())
            .await?
            .ok_or_else(|| Error::not_found("group", &entry.name))?;
        let roles = names.roles.all_named(w, org, &entry.roles, &by).await?;
        let parents = names.groups.all_named(w, org, &entry.inside, &by).await?;
        let before = load::<Group>(w.conn(), org, id).await?;
        if before.description == entry.description
            && before.inactive == entry.inactive
            && sorted_unique(before.roles.clone()) == roles
            && sorted_unique(before.parents.clone()) == parents
        {
            if !made {
                applied.unchanged += 1;
            }
            continue;
        }
        let patch = GroupPatch {
            description: Some(entry.description),
            inactive: Some(entry.inactive),
            roles: Some(roles),
            parents: Some(parents),
            ..GroupPatch::default()
        };
        groups::update(w, org, id, patch)
            .await
            .map_err(|err| names.groups.named_in(err))?;
        if !made {
            applied
                .steps
                .push(step(Verb::Update, EntryKind::Group, &entry.name));
        }
    }
    Ok(())
}

/// An account entry made to match when the account exists; a new one is answered, to be made
/// with the batch's other new accounts.
async fn apply_account(
    w: &mut WriteTx,
    org: OrganizationId,
    entry: AccountEntry,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<Option<NewAccount>> {
    let by = format!("account `{}`", entry.username);
    let roles = names.roles.all_named(w, org, &entry.roles, &by).await?;
    let groups = names.groups.all_named(w, org, &entry.groups, &by).await?;
    let Some(id) = names.accounts.find(w, org, entry.username.as_str()).await? else {
        return Ok(Some(NewAccount {
            email: entry.email,
            first_name: entry.first_name,
            inactive: entry.inactive,
            service_account: entry.service_account,
            roles,
            groups,
            attributes: entry.attributes,
            ..NewAccount::local(entry.username)
        }));
    };
    let before = load::<Account>(w.conn(), org, id).await?;
    if before.service_account != entry.service_account {
        return Err(Error::invalid(
            format!("{by}.service_account"),
            "cannot change once the account exists",
        ));
    }
    if before.email == entry.email
        && before.first_name == entry.first_name
        && before.inactive == entry.inactive
        && sorted_unique(before.roles.clone()) == roles
        && sorted_unique(before.groups.clone()) == groups
        && before.attributes == entry.attributes
    {
        applied.unchanged += 1;
        return Ok(None);
    }
    let patch = AccountPatch {
        email: Some(entry.email),
        first_name: Some(entry.first_name),
        inactive: Some(entry.inactive),
        roles: Some(roles),
        groups: Some(groups),
        attributes: Some(entry.attributes),
    };
    accounts::update(w, org, id, patch).await?;
    applied
        .steps
        .push(step(Verb::Update, EntryKind::Account, &entry.username));
    Ok(None)
}

async fn apply_policy(
    w: &mut WriteTx,
    org: OrganizationId,
    entry: PolicyEntry,
    names: &mut Names,
    applied: &mut Applied,
) -> Result<()> {
    let by = format!("policy `{}`", entry.name);
    let mut actions = Vec::with_capacity(entry.actions.len());
    for grant in entry.actions {
        actions.push(PolicyAction {
            action: grant.action,
            role_ids: names.roles.all_named(w, org, &grant.roles, &by).await?,
            condition: grant.condition,
        });
    }
    let actions = normalize_actions(actions);
    let resources = policies::validated_resources(entry.resources)?;
    let Some(id) = names.policies.find(w, org, entry.name.as_str()).await? else {
        policies::insert(
            w,
            org,
            NewPolicy {
                name: entry.name.clone(),
                system: false,
                actions,
                resources,
            },
        )
        .await?;
        applied
            .steps
            .push(step(Verb::Create, EntryKind::Policy, &entry.name));
        return Ok(());
    };
    let before = load::<Policy>(w.conn(), org, id).await?;
    if before.system {
        return Err(Error::BuiltIn {
            what: "policy",
            name: entry.name.to_string(),
        });
    }
    if before.actions == actions && before.resources == resources {
        applied.unchanged += 1;
        return Ok(());
    }
    let patch = PolicyPatch {
        actions: Some(actions),
        resources: Some(resources),
        ..PolicyPatch::default()
    };
    policies::update(w, org, id, patch).await?;
    applied
        .steps
        .push(step(Verb::Update, EntryKind::Policy, &entry.name));
    Ok(())
}
