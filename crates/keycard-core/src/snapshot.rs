//! The in-memory snapshot decisions are answered from. It is immutable once published: a write
//! produces a new snapshot by applying the write's changes to a cheap clone (persistent maps share
//! everything the change did not touch), so the cost of a write grows with what changed, not with
//! the size of the organization.

use std::sync::Arc;

use imbl::{HashMap, OrdSet};

use crate::Error;
use crate::change::{Change, EntityKind, Operation, Revision};
use crate::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use crate::model::{Account, Group, Method, Organization, Policy, ResourceRef, Role, View};
use crate::store::FullState;

/// Every organization's authorization state as of one revision.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    revision: Revision,
    organizations: HashMap<OrganizationId, Arc<OrgSnapshot>>,
}

/// One organization's authorization state.
#[derive(Clone, Debug)]
pub struct OrgSnapshot {
    pub organization: Arc<Organization>,
    accounts: HashMap<AccountId, Arc<Account>>,
    by_username: HashMap<String, AccountId>,
    by_email: HashMap<String, AccountId>,
    groups: HashMap<GroupId, Arc<Group>>,
    roles: HashMap<RoleId, Arc<Role>>,
    policies: HashMap<PolicyId, Arc<Policy>>,
    attachments: HashMap<ResourceRef, OrdSet<PolicyId>>,
    methods: HashMap<(String, String), Arc<Method>>,
    views: HashMap<(String, String), Arc<View>>,
}

impl Snapshot {
    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn organization(&self, id: OrganizationId) -> Option<&OrgSnapshot> {
        self.organizations.get(&id).map(Arc::as_ref)
    }

    /// Finds an organization by name (a scan: organizations are few).
    pub fn organization_by_name(&self, name: &str) -> Option<&OrgSnapshot> {
        self.organizations
            .values()
            .map(Arc::as_ref)
            .find(|org| org.organization.name.as_str() == name)
    }

    pub fn organization_count(&self) -> usize {
        self.organizations.len()
    }

    /// Builds a snapshot from a full read of the store.
    pub fn from_state(state: FullState) -> Result<Self, Error> {
        let mut snapshot = Snapshot {
            revision: state.revision,
            organizations: HashMap::new(),
        };
        for org in state.organizations {
            snapshot
                .organizations
                .insert(org.id, Arc::new(OrgSnapshot::new(org)));
        }
        for account in state.accounts {
            snapshot.edit(account.organization_id, |org| org.put_account(account))?;
        }
        for group in state.groups {
            snapshot.edit(group.organization_id, |org| org.put_group(group))?;
        }
        for role in state.roles {
            snapshot.edit(role.organization_id, |org| org.put_role(role))?;
        }
        for (org_id, policy) in state.policies {
            snapshot.edit(org_id, |org| org.put_policy(policy))?;
        }
        for (org_id, method) in state.methods {
            snapshot.edit(org_id, |org| org.put_method(method))?;
        }
        for (org_id, view) in state.views {
            snapshot.edit(org_id, |org| org.put_view(view))?;
        }
        Ok(snapshot)
    }

    /// Applies changes that follow this snapshot's revision, in log order. Changes at or below the
    /// current revision are skipped, so replaying an overlapping batch is harmless.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let start = self.revision;
        for change in changes {
            if change.revision <= start {
                continue;
            }
            self.apply_one(change)?;
            self.revision = change.revision;
        }
        Ok(())
    }

    /// Marks the snapshot as current up to `revision` when no change was recorded in between.
    pub fn advance_to(&mut self, revision: Revision) {
        self.revision = self.revision.max(revision);
    }

    fn apply_one(&mut self, change: &Change) -> Result<(), Error> {
        let org_id = change.organization_id;
        let deleted = change.operation == Operation::Delete;
        match change.entity {
            EntityKind::Organization => {
                if deleted {
                    self.organizations.remove(&org_id);
                } else {
                    let org: Organization = decode(change)?;
                    let next = match self.organizations.get(&org_id) {
                        Some(existing) => OrgSnapshot {
                            organization: Arc::new(org),
                            ..existing.as_ref().clone()
                        },
                        None => OrgSnapshot::new(org),
                    };
                    self.organizations.insert(org_id, Arc::new(next));
                }
            }
            EntityKind::Account => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| org.remove_account(id))?;
                } else {
                    let account: Account = decode(change)?;
                    self.edit(org_id, |org| org.put_account(account))?;
                }
            }
            EntityKind::Group => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| {
                        org.groups.remove(&id);
                    })?;
                } else {
                    let group: Group = decode(change)?;
                    self.edit(org_id, |org| org.put_group(group))?;
                }
            }
            EntityKind::Role => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| {
                        org.roles.remove(&id);
                    })?;
                } else {
                    let role: Role = decode(change)?;
                    self.edit(org_id, |org| org.put_role(role))?;
                }
            }
            EntityKind::Policy => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| org.remove_policy(id))?;
                } else {
                    let policy: Policy = decode(change)?;
                    self.edit(org_id, |org| org.put_policy(policy))?;
                }
            }
            EntityKind::Method => {
                if deleted {
                    let method: Method = decode_before(change)?;
                    self.edit(org_id, |org| {
                        org.methods
                            .remove(&(method.provenance.to_string(), method.name));
                    })?;
                } else {
                    let method: Method = decode(change)?;
                    self.edit(org_id, |org| org.put_method(method))?;
                }
            }
            EntityKind::View => {
                if deleted {
                    let view: View = decode_before(change)?;
                    self.edit(org_id, |org| {
                        org.views.remove(&(view.provenance.to_string(), view.path));
                    })?;
                } else {
                    let view: View = decode(change)?;
                    self.edit(org_id, |org| org.put_view(view))?;
                }
            }
            // Credentials are checked against the store, not the snapshot.
            EntityKind::ApiKey => {}
        }
        Ok(())
    }

    fn edit(
        &mut self,
        org_id: OrganizationId,
        f: impl FnOnce(&mut OrgSnapshot),
    ) -> Result<(), Error> {
        let Some(org) = self.organizations.get_mut(&org_id) else {
            return Err(Error::Internal(format!(
                "change log names unknown organization `{org_id}`"
            )));
        };
        f(Arc::make_mut(org));
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(change: &Change) -> Result<T, Error> {
    decode_value(change, change.after.as_ref())
}

fn decode_before<T: serde::de::DeserializeOwned>(change: &Change) -> Result<T, Error> {
    decode_value(change, change.before.as_ref())
}

fn decode_value<T: serde::de::DeserializeOwned>(
    change: &Change,
    value: Option<&serde_json::Value>,
) -> Result<T, Error> {
    let value = value.ok_or_else(|| {
        Error::Internal(format!(
            "change {}.{} on {} has no state",
            change.revision,
            change.seq,
            change.entity.as_str()
        ))
    })?;
    T::deserialize(value).map_err(|err| {
        Error::Internal(format!(
            "change {}.{} on {} is unreadable: {err}",
            change.revision,
            change.seq,
            change.entity.as_str()
        ))
    })
}

impl OrgSnapshot {
    fn new(organization: Organization) -> Self {
        Self {
            organization: Arc::new(organization),
            accounts: HashMap::new(),
            by_username: HashMap::new(),
            by_email: HashMap::new(),
            groups: HashMap::new(),
            roles: HashMap::new(),
            policies: HashMap::new(),
            attachments: HashMap::new(),
            methods: HashMap::new(),
            views: HashMap::new(),
        }
    }

    fn put_account(&mut self, account: Account) {
        self.remove_account(account.id);
        self.by_username
            .insert(account.username.to_string(), account.id);
        if let Some(email) = &account.email {
            self.by_email
                .insert(email.as_str().to_ascii_lowercase(), account.id);
        }
        self.accounts.insert(account.id, Arc::new(account));
    }

    fn remove_account(&mut self, id: AccountId) {
        if let Some(old) = self.accounts.remove(&id) {
            self.by_username.remove(old.username.as_str());
            if let Some(email) = &old.email {
                let key = email.as_str().to_ascii_lowercase();
                if self.by_email.get(&key) == Some(&id) {
                    self.by_email.remove(&key);
                }
            }
        }
    }

    fn put_group(&mut self, group: Group) {
        self.groups.insert(group.id, Arc::new(group));
    }

    fn put_role(&mut self, role: Role) {
        self.roles.insert(role.id, Arc::new(role));
    }

    fn put_policy(&mut self, policy: Policy) {
        self.remove_policy(policy.id);
        for resource in &policy.resources {
            self.attachments
                .entry(resource.clone())
                .or_default()
                .insert(policy.id);
        }
        self.policies.insert(policy.id, Arc::new(policy));
    }

    fn remove_policy(&mut self, id: PolicyId) {
        if let Some(old) = self.policies.remove(&id) {
            for resource in &old.resources {
                let now_empty = match self.attachments.get_mut(resource) {
                    Some(set) => {
                        set.remove(&id);
                        set.is_empty()
                    }
                    None => false,
                };
                if now_empty {
                    self.attachments.remove(resource);
                }
            }
        }
    }

    fn put_method(&mut self, method: Method) {
        self.methods.insert(
            (method.provenance.to_string(), method.name.clone()),
            Arc::new(method),
        );
    }

    fn put_view(&mut self, view: View) {
        self.views.insert(
            (view.provenance.to_string(), view.path.clone()),
            Arc::new(view),
        );
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id).map(Arc::as_ref)
    }

    pub fn account_by_username(&self, username: &str) -> Option<&Account> {
        self.by_username
            .get(username)
            .and_then(|id| self.account(*id))
    }

    pub fn account_by_email(&self, email: &str) -> Option<&Account> {
        self.by_email
            .get(&email.to_ascii_lowercase())
            .and_then(|id| self.account(*id))
    }

    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id).map(Arc::as_ref)
    }

    pub fn role(&self, id: RoleId) -> Option<&Role> {
        self.roles.get(&id).map(Arc::as_ref)
    }

    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values().map(Arc::as_ref)
    }

    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id).map(Arc::as_ref)
    }

    /// Policies attached to exactly this resource reference.
    pub fn policies_attached_to(&self, resource: &ResourceRef) -> impl Iterator<Item = &Policy> {
        self.attachments
            .get(resource)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.policy(*id))
    }

    pub fn method(&self, provenance: &str, name: &str) -> Option<&Method> {
        self.methods
            .get(&(provenance.to_owned(), name.to_owned()))
            .map(Arc::as_ref)
    }

    pub fn methods(&self) -> impl Iterator<Item = &Method> {
        self.methods.values().map(Arc::as_ref)
    }

    pub fn view(&self, provenance: &str, path: &str) -> Option<&View> {
        self.views
            .get(&(provenance.to_owned(), path.to_owned()))
            .map(Arc::as_ref)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values().map(Arc::as_ref)
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values().map(Arc::as_ref)
    }

    pub fn views(&self) -> impl Iterator<Item = &View> {
        self.views.values().map(Arc::as_ref)
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
}
