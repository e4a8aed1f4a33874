//! The in-memory snapshot decisions are answered from. It is immutable once published: a write
//! produces a new snapshot by applying the write's changes to a cheap clone (persistent maps share
//! everything the change did not touch), so the cost of a write grows with what changed, not with
//! the size of the organization.

use std::sync::Arc;

use imbl::{HashMap, OrdSet};

use crate::Error;
use crate::change::{Change, EntityKind, Operation, Revision};
use crate::hash_trie::TrieMap;
use crate::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use crate::index::DecisionIndex;
use crate::model::{
    Account, Group, Method, Organization, Policy, Resource, ResourceRef, Role, View,
};
use crate::names::{ResourceId, ResourceType};
use crate::registry::ResourceFacts;
use crate::store::{FullState, StateItem};

/// Every organization's authorization state as of one revision.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    revision: Revision,
    organizations: HashMap<OrganizationId, Arc<OrgSnapshot>>,
}

/// Builds a snapshot from the pieces of a full read, in the order the store streams them (an
/// organization before its contents; the contents in any order).
#[derive(Default)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
}

impl SnapshotBuilder {
    pub fn add(&mut self, item: StateItem) -> Result<(), Error> {
        let snapshot = &mut self.snapshot;
        match item {
            StateItem::Revision(revision) => snapshot.revision = revision,
            StateItem::Organization(org) => {
                snapshot
                    .organizations
                    .insert(org.id, Arc::new(OrgSnapshot::new(org)));
            }
            StateItem::Account(account) => {
                snapshot.edit(account.organization_id, |org| org.put_account(account))?;
            }
            StateItem::Group(group) => {
                snapshot.edit(group.organization_id, |org| org.put_group(group))?;
            }
            StateItem::Role(role) => {
                snapshot.edit(role.organization_id, |org| org.put_role(role))?;
            }
            StateItem::Policy(org_id, policy) => {
                snapshot.edit(org_id, |org| org.put_policy(policy))?;
            }
            StateItem::Method(org_id, method) => {
                snapshot.edit(org_id, |org| org.put_method(method))?;
            }
            StateItem::View(org_id, view) => snapshot.edit(org_id, |org| org.put_view(view))?,
            StateItem::Resource(resource) => {
                snapshot.edit(resource.organization_id, |org| org.put_resource(resource))?;
            }
        }
        Ok(())
    }

    /// The snapshot, with the routes of every organization that has a catalogue indexed once.
    pub fn finish(mut self) -> Snapshot {
        let catalogues: Vec<OrganizationId> = self
            .snapshot
            .organizations
            .iter()
            .filter(|(_, org)| !org.methods.is_empty())
            .map(|(id, _)| *id)
            .collect();
        self.snapshot.reindex_routes(catalogues);
        self.snapshot
    }
}

/// One organization's authorization state: its entities, and the index checks read.
#[derive(Clone, Debug)]
pub struct OrgSnapshot {
    pub organization: Arc<Organization>,
    accounts: HashMap<AccountId, Arc<Account>>,
    groups: HashMap<GroupId, Arc<Group>>,
    roles: HashMap<RoleId, Arc<Role>>,
    policies: HashMap<PolicyId, Arc<Policy>>,
    attachments: HashMap<ResourceRef, OrdSet<PolicyId>>,
    methods: HashMap<(String, String), Arc<Method>>,
    views: HashMap<(String, String), Arc<View>>,
    /// Registered resources, by type then id: what decisions read of them. The hash trie's
    /// leaves are sized to their entries, where `imbl`'s sparse nodes cost a million resources
    /// some 600 bytes each more.
    resources: HashMap<ResourceType, TrieMap<ResourceId, ResourceFacts>>,
    index: DecisionIndex,
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
        self.organizations()
            .find(|org| org.organization.name.as_str() == name)
    }

    pub fn organization_count(&self) -> usize {
        self.organizations.len()
    }

    /// Every organization, in no particular order.
    pub fn organizations(&self) -> impl Iterator<Item = &OrgSnapshot> {
        self.organizations.values().map(Arc::as_ref)
    }

    /// Builds a snapshot from a full read of the store.
    pub fn from_state(state: FullState) -> Result<Self, Error> {
        let mut builder = SnapshotBuilder::default();
        for item in state.into_items() {
            builder.add(item)?;
        }
        Ok(builder.finish())
    }

    /// Applies changes that follow this snapshot's revision, in log order. Changes at or below the
    /// current revision are skipped, so replaying an overlapping batch is harmless.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let start = self.revision;
        let mut catalogues = Vec::new();
        for change in changes.iter().filter(|change| change.revision > start) {
            self.apply_one(change)?;
            if change.entity == EntityKind::Method {
                catalogues.push(change.organization_id);
            }
            self.revision = change.revision;
        }
        self.reindex_routes(catalogues);
        Ok(())
    }

    /// Rebuilds the route index of organizations whose catalogue changed: once per batch of
    /// changes or per load, not once per method (a catalogue of thousands of methods arrives as
    /// thousands of changes).
    fn reindex_routes(&mut self, mut organizations: Vec<OrganizationId>) {
        organizations.sort_unstable();
        organizations.dedup();
        for org_id in &organizations {
            if let Some(org) = self.organizations.get_mut(org_id) {
                Arc::make_mut(org).reindex_routes();
            }
        }
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
                    let org: Organization = change.after_as()?;
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
                    let account: Account = change.after_as()?;
                    self.edit(org_id, |org| org.put_account(account))?;
                }
            }
            EntityKind::Group => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| org.remove_group(id))?;
                } else {
                    let group: Group = change.after_as()?;
                    self.edit(org_id, |org| org.put_group(group))?;
                }
            }
            EntityKind::Role => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| org.remove_role(id))?;
                } else {
                    let role: Role = change.after_as()?;
                    self.edit(org_id, |org| org.put_role(role))?;
                }
            }
            EntityKind::Policy => {
                let id = change.entity_id.parse()?;
                if deleted {
                    self.edit(org_id, |org| org.remove_policy(id))?;
                } else {
                    let policy: Policy = change.after_as()?;
                    self.edit(org_id, |org| org.put_policy(policy))?;
                }
            }
            EntityKind::Method => {
                if deleted {
                    let method: Method = change.before_as()?;
                    self.edit(org_id, |org| {
                        org.remove_method(method.provenance.as_str(), &method.name)
                    })?;
                } else {
                    let method: Method = change.after_as()?;
                    self.edit(org_id, |org| org.put_method(method))?;
                }
            }
            EntityKind::View => {
                if deleted {
                    let view: View = change.before_as()?;
                    self.edit(org_id, |org| {
                        org.views.remove(&(view.provenance.to_string(), view.path));
                    })?;
                } else {
                    let view: View = change.after_as()?;
                    self.edit(org_id, |org| org.put_view(view))?;
                }
            }
            EntityKind::Resource => {
                if deleted {
                    let resource: Resource = change.before_as()?;
                    self.edit(org_id, |org| {
                        org.remove_resource(&resource.resource_type, &resource.id)
                    })?;
                } else {
                    let resource: Resource = change.after_as()?;
                    self.edit(org_id, |org| org.put_resource(resource))?;
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

impl OrgSnapshot {
    fn new(organization: Organization) -> Self {
        Self {
            organization: Arc::new(organization),
            accounts: HashMap::new(),
            groups: HashMap::new(),
            roles: HashMap::new(),
            policies: HashMap::new(),
            attachments: HashMap::new(),
            methods: HashMap::new(),
            views: HashMap::new(),
            resources: HashMap::new(),
            index: DecisionIndex::default(),
        }
    }

    pub fn index(&self) -> &DecisionIndex {
        &self.index
    }

    fn put_account(&mut self, account: Account) {
        let old = self.accounts.get(&account.id).cloned();
        self.index.put_account(old.as_deref(), &account);
        self.accounts.insert(account.id, Arc::new(account));
    }

    fn remove_account(&mut self, id: AccountId) {
        if let Some(old) = self.accounts.remove(&id) {
            self.index.forget_account(&old);
        }
    }

    fn put_group(&mut self, group: Group) {
        let id = group.id;
        let old = self.groups.insert(id, Arc::new(group));
        self.reindex_group(id, old.as_deref());
    }

    fn remove_group(&mut self, id: GroupId) {
        let old = self.groups.remove(&id);
        self.reindex_group(id, old.as_deref());
    }

    fn reindex_group(&mut self, id: GroupId, old: Option<&Group>) {
        let old_parents = old.map(|old| old.parents.as_slice()).unwrap_or_default();
        let groups = &self.groups;
        self.index
            .put_group(id, old_parents, |id| groups.get(&id).map(Arc::as_ref));
    }

    fn put_role(&mut self, role: Role) {
        let old = self.roles.insert(role.id, Arc::new(role.clone()));
        self.index.put_role(old.as_deref(), Some(&role));
    }

    fn remove_role(&mut self, id: RoleId) {
        if let Some(old) = self.roles.remove(&id) {
            self.index.put_role(Some(&old), None);
        }
    }

    fn put_policy(&mut self, policy: Policy) {
        let old = self.policies.get(&policy.id).cloned();
        self.remove_policy_entry(policy.id);
        for resource in &policy.resources {
            self.attachments
                .entry(resource.clone())
                .or_default()
                .insert(policy.id);
        }
        let affected = policy_keys(old.as_deref())
            .chain(policy_keys(Some(&policy)))
            .collect::<Vec<_>>();
        self.policies.insert(policy.id, Arc::new(policy));
        self.reindex_policy_keys(affected);
    }

    fn remove_policy(&mut self, id: PolicyId) {
        let old = self.policies.get(&id).cloned();
        self.remove_policy_entry(id);
        self.reindex_policy_keys(policy_keys(old.as_deref()).collect());
    }

    fn remove_policy_entry(&mut self, id: PolicyId) {
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

    /// Recomputes each (resource, action) grant as the union over the policies attached to it.
    fn reindex_policy_keys(&mut self, mut keys: Vec<(ResourceRef, String)>) {
        keys.sort();
        keys.dedup();
        for (resource, action) in keys {
            let mut roles: Vec<RoleId> = Vec::new();
            let mut conditional = Vec::new();
            for policy in self.policies_attached_to(&resource) {
                for grant in policy
                    .actions
                    .iter()
                    .filter(|a| a.action.as_str() == action)
                {
                    match &grant.condition {
                        None => roles.extend(grant.role_ids.iter().copied()),
                        Some(condition) => {
                            conditional.push((policy.id, grant.role_ids.clone(), condition.clone()))
                        }
                    }
                }
            }
            self.index
                .put_policy_grant(&resource, &action, roles, conditional);
        }
    }

    /// Adds or replaces a catalogue method; the caller reindexes routes after its batch.
    fn put_method(&mut self, method: Method) {
        self.methods.insert(
            (method.provenance.to_string(), method.name.clone()),
            Arc::new(method),
        );
    }

    /// Removes a catalogue method; the caller reindexes routes after its batch.
    fn remove_method(&mut self, provenance: &str, name: &str) {
        self.methods
            .remove(&(provenance.to_owned(), name.to_owned()));
    }

    /// Rebuilds the route index from the catalogue.
    fn reindex_routes(&mut self) {
        self.index
            .put_routes(self.methods.values().map(Arc::as_ref));
    }

    fn put_resource(&mut self, resource: Resource) {
        let facts = ResourceFacts::of(&resource);
        // Changed in place: a copy of the map would make the insert copy its root too.
        self.resources
            .entry(resource.resource_type)
            .or_default()
            .insert(resource.id, facts);
    }

    fn remove_resource(&mut self, resource_type: &ResourceType, id: &ResourceId) {
        let Some(of_type) = self.resources.get_mut(resource_type) else {
            return;
        };
        of_type.remove(id);
        if of_type.is_empty() {
            self.resources.remove(resource_type);
        }
    }

    /// What decisions know of a registered resource.
    pub fn resource(&self, resource_type: &str, id: &str) -> Option<&ResourceFacts> {
        self.resources.get(resource_type)?.get(id)
    }

    /// The registered resources of a type, by id, in no particular order.
    pub fn resources_of(
        &self,
        resource_type: &str,
    ) -> impl Iterator<Item = (&ResourceId, &ResourceFacts)> {
        self.resources
            .get(resource_type)
            .into_iter()
            .flat_map(|of_type| of_type.iter())
    }

    /// How many resources are registered.
    pub fn resource_count(&self) -> usize {
        self.resources.values().map(TrieMap::len).sum()
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

    /// The account as the snapshot shares it: a copy costs a reference count.
    pub fn shared_account(&self, id: AccountId) -> Option<&Arc<Account>> {
        self.accounts.get(&id)
    }

    pub fn account_by_username(&self, username: &str) -> Option<&Account> {
        self.index
            .subject_by_username(username)
            .and_then(|subject| self.account(subject.id))
    }

    pub fn account_by_email(&self, email: &str) -> Option<&Account> {
        self.index
            .subject_by_email(email)
            .and_then(|subject| self.account(subject.id))
    }

    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id).map(Arc::as_ref)
    }

    pub fn role(&self, id: RoleId) -> Option<&Role> {
        self.roles.get(&id).map(Arc::as_ref)
    }

    /// The organization's system role of this name (`Admin`, `Member`, the Itential ones).
    pub fn system_role(&self, name: &str) -> Option<RoleId> {
        self.roles()
            .find(|role| role.system && role.name.as_str() == name)
            .map(|role| role.id)
    }

    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values().map(Arc::as_ref)
    }

    pub fn policy(&self, id: PolicyId) -> Option<&Policy> {
        self.policies.get(&id).map(Arc::as_ref)
    }

    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.values().map(Arc::as_ref)
    }

    /// Policies attached to exactly this resource reference.
    pub fn policies_attached_to(&self, resource: &ResourceRef) -> impl Iterator<Item = &Policy> {
        self.attachments
            .get(resource)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.policy(*id))
    }

    /// Policies that govern a resource: those attached to it, then those attached to every
    /// resource of its type (`*`).
    pub fn policies_governing(
        &self,
        resource_type: &str,
        resource_id: &str,
    ) -> impl Iterator<Item = &Policy> {
        let attached = |id: &str| ResourceRef {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
        };
        let (exact, any) = (attached(resource_id), attached(ResourceRef::ANY_ID));
        let exact: Vec<&Policy> = self.policies_attached_to(&exact).collect();
        exact
            .into_iter()
            .chain(self.policies_attached_to(&any).collect::<Vec<_>>())
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

    /// Every resource of a type that some policy is attached to (`*` included).
    pub fn attached_resources<'a>(
        &'a self,
        resource_type: &'a str,
    ) -> impl Iterator<Item = &'a ResourceRef> + 'a {
        self.attachments
            .keys()
            .filter(move |resource| resource.resource_type == resource_type)
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
}

/// The (resource, action) pairs a policy grants on.
fn policy_keys(policy: Option<&Policy>) -> impl Iterator<Item = (ResourceRef, String)> + '_ {
    policy.into_iter().flat_map(|policy| {
        policy.resources.iter().flat_map(move |resource| {
            policy
                .actions
                .iter()
                .map(move |action| (resource.clone(), action.action.to_string()))
        })
    })
}
