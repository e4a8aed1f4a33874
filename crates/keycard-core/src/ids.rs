//! Typed identifiers. Every entity id is a UUID (version 7, so ids sort by creation time); the
//! newtypes keep an account id from being passed where a role id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// What this id names, for error messages.
            pub const WHAT: &'static str = $what;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid(concat!($what, " id"), format!("`{s}` is not a uuid")))
            }
        }
    };
}

typed_id!(
    /// An organization (tenant).
    OrganizationId, "organization"
);
typed_id!(
    /// An account: a person or a service that authenticates.
    AccountId, "account"
);
typed_id!(
    /// A group of accounts and other groups.
    GroupId, "group"
);
typed_id!(
    /// A role.
    RoleId, "role"
);
typed_id!(
    /// A policy.
    PolicyId, "policy"
);
typed_id!(
    /// An API key.
    ApiKeyId, "api key"
);
typed_id!(
    /// A login session.
    SessionId, "session"
);
typed_id!(
    /// An organization's webhook.
    WebhookId, "webhook"
);
typed_id!(
    /// One attempt to deliver an event to a webhook.
    DeliveryId, "delivery"
);
