//! The change log: every write appends one or more changes under a single new revision. The
//! revision is the consistency token handed to clients, and the snapshot follows the log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::OrganizationId;

/// A position in the change log. Revision 0 is the empty store; every write adds one.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(transparent)]
pub struct Revision(pub i64);

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The kind of entity a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Organization,
    Account,
    Group,
    Role,
    Method,
    View,
    Policy,
    ApiKey,
    Resource,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Organization => "organization",
            EntityKind::Account => "account",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
            EntityKind::Method => "method",
            EntityKind::View => "view",
            EntityKind::Policy => "policy",
            EntityKind::ApiKey => "api_key",
            EntityKind::Resource => "resource",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            EntityKind::Organization,
            EntityKind::Account,
            EntityKind::Group,
            EntityKind::Role,
            EntityKind::Method,
            EntityKind::View,
            EntityKind::Policy,
            EntityKind::ApiKey,
            EntityKind::Resource,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// What a change did to its entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "create" => Some(Operation::Create),
            "update" => Some(Operation::Update),
            "delete" => Some(Operation::Delete),
            _ => None,
        }
    }
}

/// One entry of the change log. `before` and `after` hold the entity's record
/// ([`crate::record`]), in version `record_version`; credentials appear without secrets or hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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
    #[serde(default = "first_record_version")]
    pub record_version: u32,
}

fn first_record_version() -> u32 {
    1
}
