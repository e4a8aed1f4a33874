//! The change log's own record of each entity: the JSON a change's `before` and `after` hold.
//!
//! A record is a contract with every process that reads the log, whatever its version: another node
//! of a rolling upgrade, a follower, an event consumer. So it is a type of its own, not the domain
//! type nor an API's wire type, and renaming a domain field changes nothing here. Version 1 is the
//! shape the log has held since the first release. A change to a record's shape makes a new
//! version: writers record [`RECORD_VERSION`] with every change, and a reader refuses a change of a
//! version it does not know instead of misreading it.
//!
//! Version 2 adds an account's `attributes` (absent when empty), which conditions read, a policy
//! action's `condition` (absent when none), and the registered resources: a reader of version 1 would drop them silently, so it must refuse the
//! change instead. A version-1 record reads as an account without attributes.
//!
//! Version 3 adds API keys of no account, an organization's decision keys: a reader of version 2
//! would not know what such a key may do, so it refuses the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::attributes::Attributes;
use crate::change::{Change, EntityKind};
use crate::condition::Condition;
use crate::ids::{AccountId, ApiKeyId, GroupId, OrganizationId, PolicyId, RoleId};
use crate::model::{
    Account, ApiKey, Group, Method, MethodRef, Organization, Policy, PolicyAction, Resource,
    ResourceRef, Role, Route, SsoSettings, View, ViewRef,
};
use crate::names::{
    ActionName, Description, Email, FirstName, GroupName, OrganizationName, PolicyName, Provenance,
    ResourceId, ResourceType, RoleName, Username,
};

/// The record version this build writes, and the newest it reads.
pub const RECORD_VERSION: u32 = 3;

/// An entity the change log records.
pub trait Recorded: Sized {
    /// Its record, as the log holds it.
    type Record: Serialize + for<'de> Deserialize<'de>;
    /// The kind of entity a change to it is about.
    const KIND: EntityKind;

    /// The id a change to it names (`provenance/name` for catalogue entries).
    fn key(&self) -> String;

    fn to_record(&self) -> Self::Record;
    fn from_record(record: Self::Record) -> Self;
}

impl Change {
    /// The entity as the change left it.
    pub fn after_as<T: Recorded>(&self) -> Result<T, Error> {
        self.decode(self.after.as_ref())
    }

    /// The entity as it was before the change.
    pub fn before_as<T: Recorded>(&self) -> Result<T, Error> {
        self.decode(self.before.as_ref())
    }

    fn decode<T: Recorded>(&self, value: Option<&serde_json::Value>) -> Result<T, Error> {
        let at = || {
            format!(
                "change {}.{} on {}",
                self.revision,
                self.seq,
                self.entity.as_str()
            )
        };
        if self.record_version > RECORD_VERSION {
            return Err(Error::Unavailable(format!(
                "{} is recorded in version {} of the change log, newer than this binary's {RECORD_VERSION}; upgrade keycard",
                at(),
                self.record_version
            )));
        }
        let value = value.ok_or_else(|| Error::Internal(format!("{} has no state", at())))?;
        T::Record::deserialize(value)
            .map(T::from_record)
            .map_err(|err| Error::Internal(format!("{} is unreadable: {err}", at())))
    }
}

/// Encodes an entity's record for the log.
pub fn encode<T: Recorded>(entity: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(entity.to_record())
        .map_err(|err| Error::Internal(format!("encoding a change failed: {err}")))
}

/// Version 1 of an organization's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    pub id: OrganizationId,
    pub name: OrganizationName,
    #[serde(default)]
    pub actions: Vec<ActionName>,
    #[serde(default)]
    pub sso: SsoRecord,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoRecord {
    pub issuer: Option<String>,
    pub sso_domain: Option<String>,
    pub sso_org_id: Option<String>,
}

impl Recorded for Organization {
    type Record = OrganizationRecord;
    const KIND: EntityKind = EntityKind::Organization;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> OrganizationRecord {
        OrganizationRecord {
            id: self.id,
            name: self.name.clone(),
            actions: self.actions.clone(),
            sso: SsoRecord {
                issuer: self.sso.issuer.clone(),
                sso_domain: self.sso.sso_domain.clone(),
                sso_org_id: self.sso.sso_org_id.clone(),
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: OrganizationRecord) -> Self {
        Organization {
            id: record.id,
            name: record.name,
            actions: record.actions,
            sso: SsoSettings {
                issuer: record.sso.issuer,
                sso_domain: record.sso.sso_domain,
                sso_org_id: record.sso.sso_org_id,
            },
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// An account's record (version 2): never a password or its hash, only whether one is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: AccountId,
    pub organization_id: OrganizationId,
    pub username: Username,
    pub email: Option<Email>,
    pub first_name: FirstName,
    pub provenance: Provenance,
    pub inactive: bool,
    pub service_account: bool,
    pub has_password: bool,
    pub roles: Vec<RoleId>,
    pub groups: Vec<GroupId>,
    /// Since version 2.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Recorded for Account {
    type Record = AccountRecord;
    const KIND: EntityKind = EntityKind::Account;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> AccountRecord {
        AccountRecord {
            id: self.id,
            organization_id: self.organization_id,
            username: self.username.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            provenance: self.provenance.clone(),
            inactive: self.inactive,
            service_account: self.service_account,
            has_password: self.has_password,
            roles: self.roles.clone(),
            groups: self.groups.clone(),
            attributes: self.attributes.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: AccountRecord) -> Self {
        Account {
            id: record.id,
            organization_id: record.organization_id,
            username: record.username,
            email: record.email,
            first_name: record.first_name,
            provenance: record.provenance,
            inactive: record.inactive,
            service_account: record.service_account,
            has_password: record.has_password,
            roles: record.roles,
            groups: record.groups,
            attributes: record.attributes,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Version 1 of a group's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: GroupId,
    pub organization_id: OrganizationId,
    pub name: GroupName,
    pub description: Description,
    pub provenance: Provenance,
    pub inactive: bool,
    pub roles: Vec<RoleId>,
    pub parents: Vec<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Recorded for Group {
    type Record = GroupRecord;
    const KIND: EntityKind = EntityKind::Group;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> GroupRecord {
        GroupRecord {
            id: self.id,
            organization_id: self.organization_id,
            name: self.name.clone(),
            description: self.description.clone(),
            provenance: self.provenance.clone(),
            inactive: self.inactive,
            roles: self.roles.clone(),
            parents: self.parents.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: GroupRecord) -> Self {
        Group {
            id: record.id,
            organization_id: record.organization_id,
            name: record.name,
            description: record.description,
            provenance: record.provenance,
            inactive: record.inactive,
            roles: record.roles,
            parents: record.parents,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// A grant of a method or a view: `{provenance, name}` or `{provenance, path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodGrant {
    pub provenance: Provenance,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewGrant {
    pub provenance: Provenance,
    pub path: String,
}

/// Version 1 of a role's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub id: RoleId,
    pub organization_id: OrganizationId,
    pub name: RoleName,
    pub description: Description,
    pub provenance: Provenance,
    pub system: bool,
    pub inactive: bool,
    pub methods: Vec<MethodGrant>,
    pub views: Vec<ViewGrant>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Recorded for Role {
    type Record = RoleRecord;
    const KIND: EntityKind = EntityKind::Role;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> RoleRecord {
        RoleRecord {
            id: self.id,
            organization_id: self.organization_id,
            name: self.name.clone(),
            description: self.description.clone(),
            provenance: self.provenance.clone(),
            system: self.system,
            inactive: self.inactive,
            methods: self
                .methods
                .iter()
                .map(|method| MethodGrant {
                    provenance: method.provenance.clone(),
                    name: method.name.clone(),
                })
                .collect(),
            views: self
                .views
                .iter()
                .map(|view| ViewGrant {
                    provenance: view.provenance.clone(),
                    path: view.path.clone(),
                })
                .collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: RoleRecord) -> Self {
        Role {
            id: record.id,
            organization_id: record.organization_id,
            name: record.name,
            description: record.description,
            provenance: record.provenance,
            system: record.system,
            inactive: record.inactive,
            methods: record
                .methods
                .into_iter()
                .map(|grant| MethodRef {
                    provenance: grant.provenance,
                    name: grant.name,
                })
                .collect(),
            views: record
                .views
                .into_iter()
                .map(|grant| ViewRef {
                    provenance: grant.provenance,
                    path: grant.path,
                })
                .collect(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Version 1 of a catalogue method's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodRecord {
    pub provenance: Provenance,
    pub name: String,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub route: Option<RouteRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRecord {
    pub verb: String,
    pub path: String,
}

impl Recorded for Method {
    type Record = MethodRecord;
    const KIND: EntityKind = EntityKind::Method;

    fn key(&self) -> String {
        Method::key(self)
    }

    fn to_record(&self) -> MethodRecord {
        MethodRecord {
            provenance: self.provenance.clone(),
            name: self.name.clone(),
            deprecated: self.deprecated,
            route: self.route.as_ref().map(|route| RouteRecord {
                verb: route.verb.clone(),
                path: route.path.clone(),
            }),
        }
    }

    fn from_record(record: MethodRecord) -> Self {
        Method {
            provenance: record.provenance,
            name: record.name,
            deprecated: record.deprecated,
            route: record.route.map(|route| Route {
                verb: route.verb,
                path: route.path,
            }),
        }
    }
}

/// Version 1 of a catalogue view's record.
pub type ViewRecord = ViewGrant;

impl Recorded for View {
    type Record = ViewRecord;
    const KIND: EntityKind = EntityKind::View;

    fn key(&self) -> String {
        View::key(self)
    }

    fn to_record(&self) -> ViewRecord {
        ViewGrant {
            provenance: self.provenance.clone(),
            path: self.path.clone(),
        }
    }

    fn from_record(record: ViewRecord) -> Self {
        View {
            provenance: record.provenance,
            path: record.path,
        }
    }
}

/// One action of a policy and the roles it is granted to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionGrant {
    pub action: ActionName,
    #[serde(default)]
    pub role_ids: Vec<RoleId>,
    /// Since version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// A resource a policy is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

/// Version 1 of a policy's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub id: PolicyId,
    pub organization_id: OrganizationId,
    pub name: PolicyName,
    pub system: bool,
    pub actions: Vec<ActionGrant>,
    pub resources: Vec<AttachmentRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Recorded for Policy {
    type Record = PolicyRecord;
    const KIND: EntityKind = EntityKind::Policy;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> PolicyRecord {
        PolicyRecord {
            id: self.id,
            organization_id: self.organization_id,
            name: self.name.clone(),
            system: self.system,
            actions: self
                .actions
                .iter()
                .map(|action| ActionGrant {
                    action: action.action.clone(),
                    role_ids: action.role_ids.clone(),
                    condition: action.condition.clone(),
                })
                .collect(),
            resources: self
                .resources
                .iter()
                .map(|resource| AttachmentRecord {
                    resource_type: resource.resource_type.clone(),
                    id: resource.id.clone(),
                })
                .collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: PolicyRecord) -> Self {
        Policy {
            id: record.id,
            organization_id: record.organization_id,
            name: record.name,
            system: record.system,
            actions: record
                .actions
                .into_iter()
                .map(|grant| PolicyAction {
                    action: grant.action,
                    role_ids: grant.role_ids,
                    condition: grant.condition,
                })
                .collect(),
            resources: record
                .resources
                .into_iter()
                .map(|resource| ResourceRef {
                    resource_type: resource.resource_type,
                    id: resource.id,
                })
                .collect(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// An API key's record: never its secret or the secret's digest. Since version 3 a decision key
/// has no `account_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Recorded for ApiKey {
    type Record = ApiKeyRecord;
    const KIND: EntityKind = EntityKind::ApiKey;

    fn key(&self) -> String {
        self.id.to_string()
    }

    fn to_record(&self) -> ApiKeyRecord {
        ApiKeyRecord {
            id: self.id,
            organization_id: self.organization_id,
            account_id: self.account_id,
            name: self.name.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        }
    }

    fn from_record(record: ApiKeyRecord) -> Self {
        ApiKey {
            id: record.id,
            organization_id: record.organization_id,
            account_id: record.account_id,
            name: record.name,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// A registered resource's record (since version 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub organization_id: OrganizationId,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
    pub owner: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Recorded for Resource {
    type Record = ResourceRecord;
    const KIND: EntityKind = EntityKind::Resource;

    fn key(&self) -> String {
        Resource::key(self)
    }

    fn to_record(&self) -> ResourceRecord {
        ResourceRecord {
            organization_id: self.organization_id,
            resource_type: self.resource_type.clone(),
            id: self.id.clone(),
            owner: self.owner,
            attributes: self.attributes.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn from_record(record: ResourceRecord) -> Self {
        Resource {
            organization_id: record.organization_id,
            resource_type: record.resource_type,
            id: record.id,
            owner: record.owner,
            attributes: record.attributes,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}
