//! What the native API answers: its own types, named as the OpenAPI document names them, made from
//! the domain's. A domain type can change (a field renamed, one added for the engine) without the
//! API changing with it; the committed `openapi.json` pins what is here.
//!
//! The catalogue's entries go both ways (listed, and imported in a manifest), so theirs convert
//! both ways. Nested values (method and view grants, routes, policy actions, resources, SSO settings) are
//! the domain's small value types, which requests use as they are; the committed `openapi.json`
//! pins them too.

use chrono::{DateTime, Utc};
use keycard_core::change::{self, EntityKind, Operation, Revision};
use keycard_core::ids::{
    AccountId, ApiKeyId, GroupId, OrganizationId, PolicyId, RoleId, SessionId,
};
use keycard_core::model::{
    self, MethodRef, PolicyAction, ResourceRef, Route, SsoSettings, ViewRef,
};
use keycard_core::names::{
    ActionName, Description, Email, FirstName, GroupName, OrganizationName, PolicyName, Provenance,
    RoleName, Username,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant: every other entity belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: OrganizationName,
    /// The actions policies in this organization offer, in order.
    pub actions: Vec<ActionName>,
    /// Single sign-on settings, kept for clients that manage them.
    pub sso: SsoSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<model::Organization> for Organization {
    fn from(org: model::Organization) -> Self {
        Self {
            id: org.id,
            name: org.name,
            actions: org.actions,
            sso: org.sso,
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

/// A person or service that authenticates and is the subject of decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<model::Account> for Account {
    fn from(account: model::Account) -> Self {
        Self {
            id: account.id,
            organization_id: account.organization_id,
            username: account.username,
            email: account.email,
            first_name: account.first_name,
            provenance: account.provenance,
            inactive: account.inactive,
            service_account: account.service_account,
            has_password: account.has_password,
            roles: account.roles,
            groups: account.groups,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

/// A set of accounts and groups that share roles. Groups nest: a group inherits the roles of every
/// group it is a member of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<model::Group> for Group {
    fn from(group: model::Group) -> Self {
        Self {
            id: group.id,
            organization_id: group.organization_id,
            name: group.name,
            description: group.description,
            provenance: group.provenance,
            inactive: group.inactive,
            roles: group.roles,
            parents: group.parents,
            created_at: group.created_at,
            updated_at: group.updated_at,
        }
    }
}

/// A named set of permissions. System roles are created by Keycard and cannot be changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<model::Role> for Role {
    fn from(role: model::Role) -> Self {
        Self {
            id: role.id,
            organization_id: role.organization_id,
            name: role.name,
            description: role.description,
            provenance: role.provenance,
            system: role.system,
            inactive: role.inactive,
            methods: role.methods,
            views: role.views,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

/// Binds actions to roles on the resources it is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<model::Policy> for Policy {
    fn from(policy: model::Policy) -> Self {
        Self {
            id: policy.id,
            organization_id: policy.organization_id,
            name: policy.name,
            system: policy.system,
            actions: policy.actions,
            resources: policy.resources,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
        }
    }
}

/// Metadata of an API key; the secret is shown once at creation and only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    pub account_id: AccountId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<model::ApiKey> for ApiKey {
    fn from(key: model::ApiKey) -> Self {
        Self {
            id: key.id,
            organization_id: key.organization_id,
            account_id: key.account_id,
            name: key.name,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A login session (its token is shown once, beside it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    pub organization_id: OrganizationId,
    pub account_id: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<model::Session> for Session {
    fn from(session: model::Session) -> Self {
        Self {
            id: session.id,
            organization_id: session.organization_id,
            account_id: session.account_id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            revoked_at: session.revoked_at,
        }
    }
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

impl From<model::Method> for Method {
    fn from(method: model::Method) -> Self {
        let model::Method {
            provenance,
            name,
            deprecated,
            route,
        } = method;
        Self {
            provenance,
            name,
            deprecated,
            route,
        }
    }
}

impl From<Method> for model::Method {
    fn from(method: Method) -> Self {
        let Method {
            provenance,
            name,
            deprecated,
            route,
        } = method;
        Self {
            provenance,
            name,
            deprecated,
            route,
        }
    }
}

/// A view known to the organization's permission catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct View {
    pub provenance: Provenance,
    pub path: String,
}

impl From<model::View> for View {
    fn from(view: model::View) -> Self {
        Self {
            provenance: view.provenance,
            path: view.path,
        }
    }
}

impl From<View> for model::View {
    fn from(view: View) -> Self {
        Self {
            provenance: view.provenance,
            path: view.path,
        }
    }
}

/// A permission catalogue manifest, as imported from JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub methods: Vec<Method>,
    #[serde(default)]
    pub views: Vec<View>,
}

impl From<Manifest> for model::Manifest {
    fn from(manifest: Manifest) -> Self {
        Self {
            methods: manifest.methods.into_iter().map(Into::into).collect(),
            views: manifest.views.into_iter().map(Into::into).collect(),
        }
    }
}

/// One entry of the change log. `before` and `after` hold the entity's record, in version
/// `record_version` (see the change log's records); credentials appear without secrets or hashes.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub revision: Revision,
    /// Position of this change within its revision.
    pub seq: i32,
    pub organization_id: OrganizationId,
    pub entity: EntityKind,
    pub entity_id: String,
    pub operation: Operation,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The version of the records in `before` and `after`.
    pub record_version: u32,
}

impl From<change::Change> for Change {
    fn from(change: change::Change) -> Self {
        Self {
            revision: change.revision,
            seq: change.seq,
            organization_id: change.organization_id,
            entity: change.entity,
            entity_id: change.entity_id,
            operation: change.operation,
            actor: change.actor,
            at: change.at,
            before: change.before,
            after: change.after,
            record_version: change.record_version,
        }
    }
}
