//! Webhooks: an organization's endpoint that every event of the organization is POSTed to, signed
//! with the webhook's secret, and the record of each attempt to deliver one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::change::Revision;
use crate::ids::{DeliveryId, OrganizationId, WebhookId};
use crate::{Error, Result};

/// An organization's webhook (one at most).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub organization_id: OrganizationId,
    pub endpoint: String,
    /// The key deliveries are signed with: kept usable, as signing needs it.
    pub secret: String,
    pub disabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a webhook is made or changed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSpec {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// A webhook's endpoint: an absolute `http` or `https` URL whose host the operator allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    host: String,
}

impl Endpoint {
    /// Checks `url` and that its host is one of `allowed` (host names or addresses, matched
    /// exactly, regardless of case): a webhook cannot be aimed at what the operator did not list.
    pub fn parse(url: &str, allowed: &[String]) -> Result<Self> {
        let invalid = |reason: String| Error::invalid("endpoint", reason);
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| invalid(format!("`{url}` is not an http or https URL")))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("an endpoint carries no credentials".into()));
        }
        let host = if let Some(bracketed) = authority.strip_prefix('[') {
            bracketed.split(']').next().unwrap_or_default()
        } else {
            authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host)
        }
        .to_ascii_lowercase();
        if host.is_empty() || url.len() > 2048 || url.chars().any(char::is_control) {
            return Err(invalid(format!("`{url}` is not a valid URL")));
        }
        if !allowed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(&host))
        {
            return Err(Error::Forbidden(format!(
                "webhooks may not reach `{host}`: it is not among the hosts the operator allows (KEYCARD_WEBHOOK_ALLOW_HOSTS)"
            )));
        }
        Ok(Self {
            url: url.to_owned(),
            host,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl WebhookSpec {
    pub fn new(endpoint: Endpoint, secret: String) -> Result<Self> {
        if secret.len() < 16 || secret.len() > 256 {
            return Err(Error::invalid(
                "secret",
                "must be 16 to 256 characters, to sign deliveries with",
            ));
        }
        Ok(Self { endpoint, secret })
    }
}

/// One attempt to deliver an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub success: bool,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    /// The start of what the endpoint answered.
    pub response: Option<String>,
}

/// Which deliveries a list shows.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub success: Option<bool>,
    pub event_id: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Older than this (attempted_at, id): the page token.
    pub before: Option<(DateTime<Utc>, DeliveryId)>,
}

/// A webhook due for delivery, leased to one node: where it is in the log and how its next
/// event has fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub webhook: Webhook,
    /// The last change delivered or given up on.
    pub cursor: (Revision, i32),
    /// Failed attempts at the next event.
    pub failures: u32,
}
