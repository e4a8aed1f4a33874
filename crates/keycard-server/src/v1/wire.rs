//! What the native API answers: its own types, named as the OpenAPI document names them, made from
//! the domain's. A domain type can change (a field renamed, one added for the engine) without the
//! API changing with it; the committed `openapi.json` pins what is here.
//!
//! The catalogue's entries go both ways (listed, and imported in a manifest), so theirs convert
//! both ways. Nested values (method and view grants, routes, policy actions, resources, SSO settings) are
//! the domain's small value types, which requests use as they are; the committed `openapi.json`
//! pins them too.

use chrono::{DateTime, Utc};
use keycard_core::attributes::Attributes;
use keycard_core::change::{self, EntityKind, Operation, Revision};
use keycard_core::ids::{
    AccountId, ApiKeyId, GroupId, OrganizationId, PolicyId, RoleId, SessionId,
};
use keycard_core::model::{
    self, MethodRef, PolicyAction, ResourceRef, Route, SsoSettings, ViewRef,
};
use keycard_core::names::{
    ActionName, Description, Email, FirstName, GroupName, OrganizationName, PolicyName, Provenance,
    ResourceId, ResourceType, RoleName, Username,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `From<$from> for $to`, moving each named field across: the wire type's fields all have their
/// domain names, and a field left out of the list fails to compile.
macro_rules! moved_fields {
    ($from:path => $to:path { $($field:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                Self { $($field: value.$field),* }
            }
        }
    };
}

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

moved_fields!(model::Organization => Organization {
    id, name, actions, sso, created_at, updated_at,
});

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
    /// What conditions read in `subject.properties`, over what a request says.
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

moved_fields!(model::Account => Account {
    id, organization_id, username, email, first_name, provenance,
    inactive, service_account, has_password, roles, groups, attributes,
    created_at, updated_at,
});

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

moved_fields!(model::Group => Group {
    id, organization_id, name, description, provenance, inactive,
    roles, parents, created_at, updated_at,
});

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

moved_fields!(model::Role => Role {
    id, organization_id, name, description, provenance, system,
    inactive, methods, views, created_at, updated_at,
});

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

moved_fields!(model::Policy => Policy {
    id, organization_id, name, system, actions, resources,
    created_at, updated_at,
});

/// Metadata of an API key; the secret is shown once at creation and only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    /// The account the key acts as; `null` for a decision key, which is no account and may only
    /// ask for decisions.
    pub account_id: Option<AccountId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

moved_fields!(model::ApiKey => ApiKey {
    id, organization_id, account_id, name, created_at, last_used_at,
    revoked_at,
});

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

moved_fields!(model::Session => Session {
    id, organization_id, account_id, created_at, expires_at, revoked_at,
});

/// A resource the organization registered, found by its type and id: what conditions read as
/// `resource` beside what a request says of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegisteredResource {
    pub organization_id: OrganizationId,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
    /// The account that owns it; cleared when that account is deleted.
    pub owner: Option<AccountId>,
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

moved_fields!(model::Resource => RegisteredResource {
    organization_id, resource_type, id, owner, attributes, created_at, updated_at,
});

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

moved_fields!(model::Method => Method { provenance, name, deprecated, route });
moved_fields!(Method => model::Method { provenance, name, deprecated, route });

/// A view known to the organization's permission catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct View {
    pub provenance: Provenance,
    pub path: String,
}

moved_fields!(model::View => View {
    provenance, path,
});

moved_fields!(View => model::View {
    provenance, path,
});

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

moved_fields!(change::Change => Change {
    revision, seq, organization_id, entity, entity_id, operation,
    actor, at, before, after, record_version,
});
