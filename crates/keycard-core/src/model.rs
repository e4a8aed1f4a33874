//! The entities every face shares, and the inputs that create or change them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::attributes::Attributes;
use crate::condition::Condition;
use crate::ids::{AccountId, ApiKeyId, GroupId, OrganizationId, PolicyId, RoleId, SessionId};
use crate::names::{
    ActionName, Description, Email, FirstName, GroupName, OrganizationName, PolicyName, Provenance,
    ResourceId, ResourceType, RoleName, Username,
};

/// The organization every fresh store starts with.
pub const DEFAULT_ORGANIZATION: &str = "default";
/// The system role that may do anything in its organization.
pub const ADMIN_ROLE: &str = "Admin";
/// The system role every organization has for ordinary members.
pub const MEMBER_ROLE: &str = "Member";
/// Provenance of the roles Keycard itself creates.
pub const SYSTEM_PROVENANCE: &str = "Keycard";
/// Provenance of roles made by users.
pub const CUSTOM_PROVENANCE: &str = "Custom";
/// Provenance of accounts and groups made locally.
pub const LOCAL_PROVENANCE: &str = "Local";

/// The actions every organization's policies offer unless it sets its own.
pub const DEFAULT_ACTIONS: &[&str] = &[
    "apply_policy",
    "create",
    "delete",
    "edit",
    "read",
    "sync_to",
    "trigger",
];

/// A tenant: every other entity belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: OrganizationName,
    /// The actions policies in this organization offer, in order.
    #[serde(default)]
    pub actions: Vec<ActionName>,
    /// Single sign-on settings, kept for clients that manage them.
    #[serde(default)]
    pub sso: SsoSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An organization's single sign-on settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoSettings {
    pub issuer: Option<String>,
    pub sso_domain: Option<String>,
    pub sso_org_id: Option<String>,
}

impl SsoSettings {
    pub fn validate(&self) -> crate::Result<()> {
        for (field, value) in [
            ("issuer", &self.issuer),
            ("sso_domain", &self.sso_domain),
            ("sso_org_id", &self.sso_org_id),
        ] {
            if let Some(value) = value
                && (value.len() > 1024 || value.chars().any(char::is_control))
            {
                return Err(crate::Error::invalid(
                    field,
                    "must be at most 1024 characters without control characters",
                ));
            }
        }
        Ok(())
    }
}

/// Changes to an organization; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct OrganizationPatch {
    pub name: Option<OrganizationName>,
    pub actions: Option<Vec<ActionName>>,
    pub sso: Option<SsoSettings>,
}

/// The default action list, validated.
pub fn default_actions() -> crate::Result<Vec<ActionName>> {
    DEFAULT_ACTIONS
        .iter()
        .map(|action| ActionName::try_from(*action))
        .collect()
}

/// A person or service that authenticates and is the subject of decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: AccountId,
    pub organization_id: OrganizationId,
    pub username: Username,
    pub email: Option<Email>,
    pub first_name: FirstName,
    pub provenance: Provenance,
    pub inactive: bool,
    pub service_account: bool,
    /// Whether a password is set; the hash itself never leaves the store.
    pub has_password: bool,
    /// Directly assigned roles, sorted.
    pub roles: Vec<RoleId>,
    /// Groups the account is a direct member of, sorted.
    pub groups: Vec<GroupId>,
    /// What conditions read of the account in `subject.properties` (stored values win over a
    /// request's).
    #[serde(default)]
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A set of accounts and groups that share roles. Groups nest: a group inherits the roles of every
/// group it is a member of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: GroupId,
    pub organization_id: OrganizationId,
    pub name: GroupName,
    pub description: Description,
    pub provenance: Provenance,
    pub inactive: bool,
    /// Directly assigned roles, sorted.
    pub roles: Vec<RoleId>,
    /// Groups this group is a direct member of, sorted.
    pub parents: Vec<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A method permission granted by a role: `{provenance, name}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct MethodRef {
    pub provenance: Provenance,
    pub name: String,
}

/// A view permission granted by a role: `{provenance, path}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct ViewRef {
    pub provenance: Provenance,
    pub path: String,
}

/// A named set of permissions. System roles are created by Keycard and cannot be changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub id: RoleId,
    pub organization_id: OrganizationId,
    pub name: RoleName,
    pub description: Description,
    pub provenance: Provenance,
    pub system: bool,
    pub inactive: bool,
    /// Methods granted directly, sorted and unique.
    pub methods: Vec<MethodRef>,
    /// Views granted directly, sorted and unique.
    pub views: Vec<ViewRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Role {
    /// Built-in roles (system roles) cannot be changed or deleted.
    pub fn ensure_mutable(&self) -> crate::Result<()> {
        if self.system {
            return Err(crate::Error::BuiltIn {
                what: "role",
                name: self.name.to_string(),
            });
        }
        Ok(())
    }

    pub fn is_admin(&self) -> bool {
        self.system && self.name.as_str() == ADMIN_ROLE
    }
}

/// The HTTP route a catalogue method serves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Route {
    pub verb: String,
    pub path: String,
}

/// A method known to the organization's permission catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Method {
    pub provenance: Provenance,
    pub name: String,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub route: Option<Route>,
}

impl Method {
    pub fn key(&self) -> String {
        format!("{}/{}", self.provenance, self.name)
    }
}

/// A view known to the organization's permission catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct View {
    pub provenance: Provenance,
    pub path: String,
}

impl View {
    pub fn key(&self) -> String {
        format!("{}/{}", self.provenance, self.path)
    }
}

/// A permission catalogue manifest, as imported from JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub methods: Vec<Method>,
    #[serde(default)]
    pub views: Vec<View>,
}

/// A resource the organization registered: what conditions read as `resource` beside what the
/// request says of it. Found by its type and id, unique within the organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Resource {
    pub organization_id: OrganizationId,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
    /// The account that owns it, if any; cleared when that account is deleted.
    pub owner: Option<AccountId>,
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Resource {
    /// The key its changes are recorded under: `type/id` (for display: the record holds both).
    pub fn key(&self) -> String {
        resource_key(&self.resource_type, &self.id)
    }
}

/// The key a resource's changes are recorded under.
pub fn resource_key(resource_type: &ResourceType, id: &ResourceId) -> String {
    format!("{resource_type}/{id}")
}

/// A resource to register, or to replace whole when it exists (a bulk upsert).
#[derive(Clone, Debug)]
pub struct NewResource {
    pub resource_type: ResourceType,
    pub id: ResourceId,
    pub owner: Option<AccountId>,
    pub attributes: Attributes,
}

/// Changes to a resource; `None` leaves a field as it is, attributes replace wholesale.
#[derive(Clone, Debug, Default)]
pub struct ResourcePatch {
    /// `Some(None)` clears the owner.
    pub owner: Option<Option<AccountId>>,
    pub attributes: Option<Attributes>,
}

/// One action of a policy and the roles it is granted to, under a condition when one is given.
/// The same action may appear twice: granted to some roles outright and to others under a
/// condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyAction {
    pub action: ActionName,
    #[serde(default)]
    pub role_ids: Vec<RoleId>,
    /// A CEL expression that must hold for the grant to apply (see the conditions guide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// A resource a policy is attached to. An `id` of `*` means every resource of the type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

impl ResourceRef {
    pub const ANY_ID: &'static str = "*";

    pub fn validate(&self) -> crate::Result<()> {
        for (field, value) in [
            ("resource type", &self.resource_type),
            ("resource id", &self.id),
        ] {
            if value.is_empty() || value.len() > 512 || value.chars().any(char::is_control) {
                return Err(crate::Error::invalid(
                    field,
                    "must be 1 to 512 characters without control characters",
                ));
            }
        }
        Ok(())
    }
}

/// Binds actions to roles on the resources it is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub id: PolicyId,
    pub organization_id: OrganizationId,
    pub name: PolicyName,
    pub system: bool,
    /// Actions with the roles they are granted to; role ids of deleted roles may remain and grant nothing.
    pub actions: Vec<PolicyAction>,
    /// Resources the policy is attached to, sorted and unique.
    pub resources: Vec<ResourceRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Merges duplicate actions, sorts and deduplicates their roles, keeping the first-seen action order.
pub fn normalize_actions(actions: Vec<PolicyAction>) -> Vec<PolicyAction> {
    let mut merged: Vec<PolicyAction> = Vec::with_capacity(actions.len());
    for action in actions {
        match merged.iter_mut().find(|existing| {
            existing.action == action.action && existing.condition == action.condition
        }) {
            Some(existing) => existing.role_ids.extend(action.role_ids),
            None => merged.push(action),
        }
    }
    for action in &mut merged {
        action.role_ids.sort();
        action.role_ids.dedup();
    }
    merged
}

/// Refuses a bulk write that names the same entity twice (which of its two states would win?);
/// `named` says how the message shows a key.
pub fn each_named_once<K: Eq + std::hash::Hash>(
    what: &str,
    keys: impl IntoIterator<Item = K>,
    named: impl Fn(&K) -> String,
) -> crate::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if seen.contains(&key) {
            return Err(crate::Error::invalid(
                what,
                format!("`{}` appears twice", named(&key)),
            ));
        }
        seen.insert(key);
    }
    Ok(())
}

/// Sorts and deduplicates a list in place, returning it.
pub fn sorted_unique<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

/// Metadata of an API key; the secret is shown once at creation and only its hash is stored.
///
/// A key of an account acts as that account. A key of no account is one of the organization's
/// decision keys: its policy enforcement points ask for decisions with it, and nothing else. It is
/// no account, so it is never the subject of a decision nor listed by a subject search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    /// The account the key acts as; none for a decision key.
    pub account_id: Option<AccountId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Input for a new API key: its id, a name, and the digest of a secret minted for it.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub secret_hash: String,
}

impl NewApiKey {
    /// A key name: bounded, no control characters.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.chars().count() > 200 || self.name.chars().any(char::is_control) {
            return Err(crate::Error::invalid(
                "key name",
                "must be at most 200 characters without control characters",
            ));
        }
        Ok(())
    }
}

/// A login session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    pub organization_id: OrganizationId,
    pub account_id: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A principal that can hold roles and be a member of groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    Account(AccountId),
    Group(GroupId),
}

/// Input for a new organization: its name and what it starts with (see
/// [`crate::builtin::standard_organization`]).
#[derive(Clone, Debug)]
pub struct NewOrganization {
    pub name: OrganizationName,
    pub actions: Vec<ActionName>,
    pub sso: SsoSettings,
    pub roles: Vec<NewRole>,
    pub manifest: Manifest,
}

/// Input for a new account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Option<Email>,
    pub first_name: FirstName,
    pub provenance: Provenance,
    pub inactive: bool,
    pub service_account: bool,
    /// An Argon2id PHC string, already hashed.
    pub password_hash: Option<String>,
    pub roles: Vec<RoleId>,
    pub groups: Vec<GroupId>,
    pub attributes: Attributes,
}

impl NewAccount {
    /// A person's account made here: `Local`, active, without a password, roles or groups yet.
    pub fn local(username: Username) -> Self {
        NewAccount {
            username,
            email: None,
            first_name: FirstName::default(),
            provenance: Provenance::local(),
            inactive: false,
            service_account: false,
            password_hash: None,
            roles: Vec::new(),
            groups: Vec::new(),
            attributes: Attributes::default(),
        }
    }
}

/// Changes to an account; `None` leaves a field as it is, lists and attributes replace wholesale.
#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    pub email: Option<Option<Email>>,
    pub first_name: Option<FirstName>,
    pub inactive: Option<bool>,
    pub roles: Option<Vec<RoleId>>,
    pub groups: Option<Vec<GroupId>>,
    pub attributes: Option<Attributes>,
}

/// Input for a new group.
#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: GroupName,
    pub description: Description,
    pub provenance: Provenance,
    pub inactive: bool,
    pub roles: Vec<RoleId>,
    pub parents: Vec<GroupId>,
}

impl NewGroup {
    /// A group made here: `Local`, active, holding no role and in no group yet.
    pub fn local(name: GroupName) -> Self {
        NewGroup {
            name,
            description: Description::default(),
            provenance: Provenance::local(),
            inactive: false,
            roles: Vec::new(),
            parents: Vec::new(),
        }
    }
}

/// Changes to a group; `None` leaves a field as it is, lists replace wholesale.
#[derive(Clone, Debug, Default)]
pub struct GroupPatch {
    pub name: Option<GroupName>,
    pub description: Option<Description>,
    pub inactive: Option<bool>,
    pub roles: Option<Vec<RoleId>>,
    pub parents: Option<Vec<GroupId>>,
}

/// Input for a new role.
#[derive(Clone, Debug)]
pub struct NewRole {
    pub name: RoleName,
    pub description: Description,
    pub provenance: Provenance,
    pub system: bool,
    pub inactive: bool,
    pub methods: Vec<MethodRef>,
    pub views: Vec<ViewRef>,
}

impl NewRole {
    /// A role made by a user: `Custom`, active, granting nothing yet.
    pub fn custom(name: RoleName) -> Self {
        NewRole {
            name,
            description: Description::default(),
            provenance: Provenance::custom(),
            system: false,
            inactive: false,
            methods: Vec::new(),
            views: Vec::new(),
        }
    }
}

/// Changes to a role; `None` leaves a field as it is, lists replace wholesale.
#[derive(Clone, Debug, Default)]
pub struct RolePatch {
    pub name: Option<RoleName>,
    pub description: Option<Description>,
    pub inactive: Option<bool>,
    pub methods: Option<Vec<MethodRef>>,
    pub views: Option<Vec<ViewRef>>,
}

/// Input for a new policy.
#[derive(Clone, Debug)]
pub struct NewPolicy {
    pub name: PolicyName,
    pub system: bool,
    pub actions: Vec<PolicyAction>,
    pub resources: Vec<ResourceRef>,
}

/// Changes to a policy; `None` leaves a field as it is, lists replace wholesale.
#[derive(Clone, Debug, Default)]
pub struct PolicyPatch {
    pub name: Option<PolicyName>,
    pub actions: Option<Vec<PolicyAction>>,
    pub resources: Option<Vec<ResourceRef>>,
    /// `actions` replaces only the unconditional grants; the conditional ones stay. For faces
    /// that know nothing of conditions, so that what they cannot show they cannot drop either.
    pub keep_conditional_actions: bool,
}

/// A single membership or role assignment, added or removed on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    AccountInGroup(AccountId, GroupId),
    GroupInGroup { child: GroupId, parent: GroupId },
    RoleOf(Principal, RoleId),
}

/// Who performed a write, as recorded in the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub account_id: Option<AccountId>,
    /// The organization the account belongs to (not always the one it acts in: partners act in any).
    pub organization_id: Option<OrganizationId>,
    pub label: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            account_id: None,
            organization_id: None,
            label: "system".to_owned(),
        }
    }

    pub fn account(account: &Account) -> Self {
        Self {
            account_id: Some(account.id),
            organization_id: Some(account.organization_id),
            label: account.username.to_string(),
        }
    }
}
