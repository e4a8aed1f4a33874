//! The storage traits. Each write runs in one transaction that also appends to the change log and
//! returns the new [`Revision`]; reads of organization-scoped entities take the organization and never
//! see another tenant's data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::attributes::Attributes;
use crate::change::{Change, EntityKind, Revision};
use crate::directory::{Applied, DirectoryBatch};
use crate::ids::{
    AccountId, ApiKeyId, GroupId, OrganizationId, PolicyId, RoleId, SessionId, WebhookId,
};
use crate::model::{
    Account, AccountPatch, Actor, ApiKey, Group, GroupPatch, Link, Manifest, Method, NewAccount,
    NewApiKey, NewGroup, NewOrganization, NewPolicy, NewResource, NewRole, Organization,
    OrganizationPatch, Policy, PolicyPatch, Resource, ResourcePatch, ResourceRef, Role, RolePatch,
    Session, View,
};
use crate::names::{OrganizationName, Provenance, ResourceId, ResourceType, Username};
use crate::page::{Page, PageRequest};
use crate::webhook::{Delivery, DeliveryFilter, Due, Webhook, WebhookSpec};

/// The value a write produced and the revision that made it visible.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    pub value: T,
    pub revision: Revision,
}

/// Everything the snapshot is built from, read in one consistent transaction.
#[derive(Clone, Debug, Default)]
pub struct FullState {
    pub revision: Revision,
    pub organizations: Vec<Organization>,
    pub accounts: Vec<Account>,
    pub groups: Vec<Group>,
    pub roles: Vec<Role>,
    pub policies: Vec<(OrganizationId, Policy)>,
    pub methods: Vec<(OrganizationId, Method)>,
    pub views: Vec<(OrganizationId, View)>,
    pub resources: Vec<Resource>,
}

/// One piece of a full read, as [`ChangeLog::read_state`] streams it: the revision first, then
/// the organizations, then their contents.
#[derive(Clone, Debug)]
pub enum StateItem {
    Revision(Revision),
    Organization(Organization),
    Account(Account),
    Group(Group),
    Role(Role),
    Policy(OrganizationId, Policy),
    Method(OrganizationId, Method),
    View(OrganizationId, View),
    Resource(Resource),
}

impl FullState {
    /// Adds one streamed piece.
    pub fn push(&mut self, item: StateItem) {
        match item {
            StateItem::Revision(revision) => self.revision = revision,
            StateItem::Organization(org) => self.organizations.push(org),
            StateItem::Account(account) => self.accounts.push(account),
            StateItem::Group(group) => self.groups.push(group),
            StateItem::Role(role) => self.roles.push(role),
            StateItem::Policy(org, policy) => self.policies.push((org, policy)),
            StateItem::Method(org, method) => self.methods.push((org, method)),
            StateItem::View(org, view) => self.views.push((org, view)),
            StateItem::Resource(resource) => self.resources.push(resource),
        }
    }

    /// The pieces, in the order [`ChangeLog::read_state`] streams them.
    pub fn into_items(self) -> impl Iterator<Item = StateItem> {
        std::iter::once(StateItem::Revision(self.revision))
            .chain(self.organizations.into_iter().map(StateItem::Organization))
            .chain(self.accounts.into_iter().map(StateItem::Account))
            .chain(self.groups.into_iter().map(StateItem::Group))
            .chain(self.roles.into_iter().map(StateItem::Role))
            .chain(
                self.policies
                    .into_iter()
                    .map(|(org, policy)| StateItem::Policy(org, policy)),
            )
            .chain(
                self.methods
                    .into_iter()
                    .map(|(org, method)| StateItem::Method(org, method)),
            )
            .chain(
                self.views
                    .into_iter()
                    .map(|(org, view)| StateItem::View(org, view)),
            )
            .chain(self.resources.into_iter().map(StateItem::Resource))
    }
}

/// Direct members of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupMembers {
    pub accounts: Vec<AccountId>,
    pub groups: Vec<GroupId>,
}

#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Creates an organization with the roles and catalogue entries `new` starts it with, in one write.
    async fn create_organization(
        &self,
        actor: &Actor,
        new: NewOrganization,
    ) -> Result<Written<Organization>>;
    async fn get_organization(&self, id: OrganizationId) -> Result<Organization>;
    async fn find_organization(&self, name: &OrganizationName) -> Result<Option<Organization>>;
    async fn list_organizations(&self, page: &PageRequest) -> Result<Page<Organization>>;
    async fn update_organization(
        &self,
        actor: &Actor,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Written<Organization>>;
    /// Deletes an organization and everything in it.
    async fn delete_organization(&self, actor: &Actor, id: OrganizationId) -> Result<Revision>;
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewAccount,
    ) -> Result<Written<Account>>;
    async fn get_account(&self, org: OrganizationId, id: AccountId) -> Result<Account>;
    async fn find_account(
        &self,
        org: OrganizationId,
        username: &Username,
    ) -> Result<Option<Account>>;
    async fn list_accounts(&self, org: OrganizationId, page: &PageRequest)
    -> Result<Page<Account>>;
    async fn update_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        patch: AccountPatch,
    ) -> Result<Written<Account>>;
    /// Replaces the attributes of each account named, in one write: all of them, or none when
    /// one is not the organization's. Accounts already as given make no change. Answers how
    /// many changed.
    async fn set_account_attributes(
        &self,
        actor: &Actor,
        org: OrganizationId,
        attributes: Vec<(AccountId, Attributes)>,
    ) -> Result<Written<usize>>;
    /// Deletes an account with its API keys and sessions.
    async fn delete_account(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
    ) -> Result<Revision>;
    /// Sets (or clears) the Argon2id hash of an account's password and, in the same write, ends
    /// the account's sessions but `keep_session` (the one the change was made through, if any).
    async fn set_password_hash(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AccountId,
        hash: Option<String>,
        keep_session: Option<SessionId>,
    ) -> Result<Written<Account>>;
    /// The stored password hash of an account, for login.
    async fn password_hash(&self, org: OrganizationId, id: AccountId) -> Result<Option<String>>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewGroup,
    ) -> Result<Written<Group>>;
    async fn get_group(&self, org: OrganizationId, id: GroupId) -> Result<Group>;
    async fn list_groups(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Group>>;
    async fn update_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Written<Group>>;
    /// Deletes a group; its members and child groups lose the membership.
    async fn delete_group(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: GroupId,
    ) -> Result<Revision>;
    async fn group_members(&self, org: OrganizationId, id: GroupId) -> Result<GroupMembers>;
    /// Adds one membership or role assignment; adding one that exists is a no-op write.
    async fn add_link(&self, actor: &Actor, org: OrganizationId, link: Link) -> Result<Revision>;
    /// Removes one membership or role assignment; `NotFound` when it does not exist.
    async fn remove_link(&self, actor: &Actor, org: OrganizationId, link: Link)
    -> Result<Revision>;
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn create_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewRole,
    ) -> Result<Written<Role>>;
    async fn get_role(&self, org: OrganizationId, id: RoleId) -> Result<Role>;
    async fn list_roles(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Role>>;
    /// Changes a role; system roles are refused.
    async fn update_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>>;
    /// Deletes a role; accounts and groups holding it lose it, policies keep its id (granting nothing).
    async fn delete_role(&self, actor: &Actor, org: OrganizationId, id: RoleId)
    -> Result<Revision>;
}

#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Adds or replaces every method and view of the manifest in one write.
    async fn import_manifest(
        &self,
        actor: &Actor,
        org: OrganizationId,
        manifest: Manifest,
    ) -> Result<Revision>;
    async fn list_methods(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Method>>;
    async fn list_views(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<View>>;
    async fn delete_method(
        &self,
        actor: &Actor,
        org: OrganizationId,
        provenance: &Provenance,
        name: &str,
    ) -> Result<Revision>;
    async fn delete_view(
        &self,
        actor: &Actor,
        org: OrganizationId,
        provenance: &Provenance,
        path: &str,
    ) -> Result<Revision>;
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    async fn create_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewPolicy,
    ) -> Result<Written<Policy>>;
    async fn get_policy(&self, org: OrganizationId, id: PolicyId) -> Result<Policy>;
    async fn list_policies(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Policy>>;
    async fn update_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        patch: PolicyPatch,
    ) -> Result<Written<Policy>>;
    async fn delete_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
    ) -> Result<Revision>;
    /// Attaches the policy to a resource (`attached`) or detaches it, in one write.
    async fn set_attachment(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        resource: ResourceRef,
        attached: bool,
    ) -> Result<Written<Policy>>;
}

/// The organization's registered resources: what conditions read as `resource`.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Registers a resource; a conflict when its type and id are taken.
    async fn create_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewResource,
    ) -> Result<Written<Resource>>;
    async fn get_resource(
        &self,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Resource>;
    /// Resources in (type, id) order, of one type when `resource_type` is given.
    async fn list_resources(
        &self,
        org: OrganizationId,
        resource_type: Option<&ResourceType>,
        page: &PageRequest,
    ) -> Result<Page<Resource>>;
    async fn update_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
        patch: ResourcePatch,
    ) -> Result<Written<Resource>>;
    async fn delete_resource(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Revision>;
    /// Registers each resource, or replaces it whole when its type and id exist, in one write.
    /// A resource already as given is left alone (no change, its `updated_at` kept).
    async fn upsert_resources(
        &self,
        actor: &Actor,
        org: OrganizationId,
        resources: Vec<NewResource>,
    ) -> Result<Written<UpsertCount>>;
}

/// What a bulk upsert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCount {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// A stored credential with the digest its secret is checked against.
#[derive(Clone, Debug)]
pub struct StoredSecret<T> {
    pub record: T,
    pub secret_hash: String,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Creates a key of `account`, or with none a decision key of the organization.
    async fn create_api_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: Option<AccountId>,
        id: ApiKeyId,
        name: String,
        secret_hash: String,
    ) -> Result<Written<ApiKey>>;
    /// Creates an account and its first API key in one write: both, or neither.
    async fn create_account_with_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewAccount,
        key: NewApiKey,
    ) -> Result<Written<(Account, ApiKey)>>;
    /// Mints an API key for an account and, when `revoke_others`, revokes the account's other
    /// live keys, in one write: a key is never lost without its replacement being there.
    /// Answers the new key and the keys revoked.
    async fn replace_api_keys(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: AccountId,
        key: NewApiKey,
        revoke_others: bool,
    ) -> Result<Written<(ApiKey, Vec<ApiKey>)>>;
    /// The keys of `account`, or with none the organization's decision keys, revoked ones too.
    async fn list_api_keys(
        &self,
        org: OrganizationId,
        account: Option<AccountId>,
    ) -> Result<Vec<ApiKey>>;
    /// Revokes a key of `account`, or with none a decision key of the organization.
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
        account: Option<AccountId>,
        id: ApiKeyId,
    ) -> Result<Written<ApiKey>>;
    /// Looks a key up by id in any organization, for authentication.
    async fn find_api_key(&self, id: ApiKeyId) -> Result<Option<StoredSecret<ApiKey>>>;
    /// Records when a key was last used. Bookkeeping, not a change: it bumps no revision.
    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<()>;
    /// Sessions are credentials, not authorization state: they are stored but not in the change log.
    async fn create_session(
        &self,
        org: OrganizationId,
        account: AccountId,
        id: SessionId,
        secret_hash: String,
        expires_at: DateTime<Utc>,
    ) -> Result<Session>;
    async fn find_session(&self, id: SessionId) -> Result<Option<StoredSecret<Session>>>;
    async fn revoke_session(&self, id: SessionId) -> Result<()>;
    /// Accounts of the organization with at least one live session.
    async fn accounts_with_live_sessions(&self, org: OrganizationId) -> Result<Vec<AccountId>>;
    /// Revokes every live session of an account and returns how many there were.
    async fn revoke_sessions(&self, org: OrganizationId, account: AccountId) -> Result<u64>;
}

#[async_trait]
pub trait ChangeLog: Send + Sync {
    async fn latest_revision(&self) -> Result<Revision>;
    /// The oldest revision the log still holds, if it holds any.
    async fn oldest_revision(&self) -> Result<Option<Revision>>;
    /// Whether a write could commit now: takes the write lock, changes nothing, rolls back. An
    /// `Unavailable` error says why not (a lock held elsewhere, files that cannot be written).
    async fn writable(&self) -> Result<()>;
    /// Changes with a revision strictly greater than `after`, oldest first, at most `limit` revisions'
    /// worth (a revision's changes are never split).
    async fn changes_after(&self, after: Revision, limit: u32) -> Result<Vec<Change>>;
    /// Changes of one organization after a revision, oldest first, at most `limit` revisions' worth.
    async fn organization_changes(
        &self,
        org: OrganizationId,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<Change>>;
    /// Changes of one organization to the given kinds of entity made strictly between `after` and
    /// `before` and, when `resume` is given, after that (revision, seq) position; in log order, at
    /// most `limit`.
    async fn organization_events(
        &self,
        org: OrganizationId,
        kinds: &[EntityKind],
        after: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
        resume: Option<(Revision, i32)>,
        limit: u32,
    ) -> Result<Vec<Change>>;
    /// Everything the decision snapshot needs, as of one revision, handed to `sink` piece by piece
    /// as it is read (so that the snapshot can be built while the read goes on). An error from
    /// `sink` ends the read with that error.
    async fn read_state(
        &self,
        sink: &mut (dyn FnMut(StateItem) -> Result<()> + Send),
    ) -> Result<()>;

    /// Everything the decision snapshot needs, as of one revision, in memory.
    async fn load_state(&self) -> Result<FullState> {
        let mut state = FullState::default();
        self.read_state(&mut |item| {
            state.push(item);
            Ok(())
        })
        .await?;
        Ok(state)
    }
}

/// A request remembered under an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotentRecord {
    /// A request with this key is being handled.
    InFlight {
        fingerprint: String,
        started_at: DateTime<Utc>,
    },
    /// The first request's outcome, to be replayed.
    Done {
        fingerprint: String,
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
}

/// Idempotency keys and the outcomes they replay. Bookkeeping, not authorization state: no revision.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a new request. Answers `None` when the claim succeeded, otherwise the record
    /// already held under the key (records older than `expire_before` are replaced, and so is an
    /// in-flight claim older than `stale_before`, whose node presumably died).
    async fn claim_idempotency_key(
        &self,
        org: OrganizationId,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expire_before: DateTime<Utc>,
    ) -> Result<Option<IdempotentRecord>>;
    /// Stores the outcome of the request that claimed `key`.
    async fn complete_idempotency_key(
        &self,
        org: OrganizationId,
        key: &str,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Result<()>;
    /// Drops the claim on `key`, for a request that ended without an outcome worth replaying.
    async fn release_idempotency_key(&self, org: OrganizationId, key: &str) -> Result<()>;
}

/// The whole store, as the server uses it.
/// Declarative directories, applied a batch at a time.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Applies one batch of a directory as one write (see [`DirectoryBatch`]). A dry run is
    /// judged as the write would be, then rolled back; it answers the revision it was judged at.
    async fn apply_directory(
        &self,
        actor: &Actor,
        org: OrganizationId,
        batch: DirectoryBatch,
    ) -> Result<Written<Applied>>;
}

/// Webhooks, their deliveries, and the lease that lets one node deliver each.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Makes the organization's webhook, which delivers what happens from now on; a conflict if
    /// the organization has one.
    async fn create_webhook(&self, org: OrganizationId, spec: WebhookSpec) -> Result<Webhook>;
    async fn list_webhooks(&self, org: OrganizationId) -> Result<Vec<Webhook>>;
    async fn get_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<Webhook>;
    async fn update_webhook(
        &self,
        org: OrganizationId,
        id: WebhookId,
        spec: WebhookSpec,
    ) -> Result<Webhook>;
    async fn delete_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<()>;
    /// Disables a webhook (nothing is kept for it meanwhile) or enables it again, from what
    /// happens next.
    async fn set_webhook_disabled(
        &self,
        org: OrganizationId,
        id: WebhookId,
        disabled: bool,
    ) -> Result<Webhook>;
    /// A webhook's delivery attempts, newest first, at most `limit`.
    async fn list_deliveries(
        &self,
        org: OrganizationId,
        id: WebhookId,
        filter: &DeliveryFilter,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
    /// Leases to `node`, until `until`, an enabled webhook whose next attempt is due at `now` and
    /// that no live lease holds.
    async fn lease_due_webhook(
        &self,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Due>>;
    /// Ends `node`'s lease of a webhook: records the attempt, if one was made, and moves the
    /// webhook on: to `cursor` (delivered, given up on, or nothing to deliver), with `failures`
    /// failed attempts at its next event and that attempt due at `next_attempt_at`. A lease
    /// another node took meanwhile is left alone, and the attempt is still recorded.
    async fn release_webhook(
        &self,
        node: &str,
        id: WebhookId,
        attempt: Option<Delivery>,
        cursor: (Revision, i32),
        failures: u32,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()>;
}

pub trait Store:
    IdempotencyStore
    + DirectoryStore
    + WebhookStore
    + OrganizationStore
    + AccountStore
    + GroupStore
    + RoleStore
    + CatalogueStore
    + PolicyStore
    + ResourceStore
    + CredentialStore
    + ChangeLog
{
    /// Whether the backing database answers.
    fn backend(&self) -> &'static str;

    /// From now on, every write made by an account is judged by [`crate::access::review_write`]
    /// inside its transaction, against `source`'s snapshot brought up to the write's base
    /// revision; a refused write is rolled back. Set once, by the server that publishes the
    /// snapshot.
    fn review_writes(&self, source: SnapshotSource);
}

/// Where a store finds the latest published snapshot (which may lag the log; the store reads what
/// it lacks).
pub type SnapshotSource =
    std::sync::Arc<dyn Fn() -> std::sync::Arc<crate::snapshot::Snapshot> + Send + Sync>;
