//! Delivering webhooks. The change log is the outbox: each webhook keeps its place in the log, and
//! a worker on every node leases one due webhook at a time (a lease in the webhook's row, so that
//! exactly one node delivers it), POSTs its next event, records the attempt, and moves the
//! webhook on only once the endpoint took it (2xx) or the event was given up on. A node killed
//! mid-delivery loses nothing: the place has not moved, and the lease runs out.
//!
//! Each delivery is the event as `/api/events` lists it, JSON, with `Polytomic-Signature`: the
//! hex HMAC-SHA256 of the raw body under the webhook's secret. A non-2xx answer, a timeout or a
//! refused connection is retried with exponential backoff (2, 4, 8, 16 and 32 seconds: five
//! retries), then the event is given up on. Requests have timeouts, follow no redirect, and go
//! only to hosts the operator allows (checked again at each delivery).

use std::time::{Duration, Instant};

use chrono::Utc;
use keycard_core::change::Change;
use keycard_core::ids::DeliveryId;
use keycard_core::webhook::{Delivery, Due, Endpoint};
use sha2::{Digest, Sha256};

use crate::polytomic::events;
use crate::state::AppState;

/// How long a node holds a webhook it delivers.
const LEASE: Duration = Duration::from_secs(30);
/// How often a node looks for due webhooks when nothing wakes it sooner.
const POLL: Duration = Duration::from_millis(250);
/// Retries after the first attempt.
const RETRIES: u32 = 5;
/// How long an endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an endpoint's answer is kept.
const EXCERPT: usize = 1024;

/// Starts this node's delivery worker.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let node = uuid::Uuid::now_v7().to_string();
        let http = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("keycard-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(http) => http,
            Err(err) => {
                tracing::error!(error = %err, "webhook deliveries cannot start");
                return;
            }
        };
        let mut revisions = state.app.revisions();
        loop {
            loop {
                match deliver_next(&state, &http, &node).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "delivering webhooks failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                changed = revisions.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// Leases a due webhook and makes one attempt at its next event; `false` when none was due.
async fn deliver_next(
    state: &AppState,
    http: &reqwest::Client,
    node: &str,
) -> keycard_core::Result<bool> {
    let store = state.app.store();
    let now = Utc::now();
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
    let Some(due) = store.lease_due_webhook(node, now, now + lease).await? else {
        return Ok(false);
    };
    let webhook = &due.webhook;
    // Read before the events: every change up to it is committed and visible to the read below.
    let latest = store.latest_revision().await?;
    let next = store
        .organization_events(
            webhook.organization_id,
            &events::event_kinds(),
            None,
            None,
            Some(due.cursor),
            1,
        )
        .await?;
    let Some(change) = next.into_iter().next() else {
        // Nothing of this organization's up to `latest`: the webhook waits for the next write
        // (it is not looked at until the log moves past it).
        store
            .release_webhook(node, webhook.id, None, (latest, i32::MAX), 0, now)
            .await?;
        return Ok(true);
    };
    let (attempt, delivered) = attempt(state, http, &due, &change).await;
    let position = (change.revision, change.seq);
    let failures = due.failures + 1;
    let (cursor, failures, next_attempt) = if delivered || failures > RETRIES {
        if !delivered {
            tracing::warn!(webhook = %webhook.id, event = %attempt.event_id, "a webhook event was given up on after {RETRIES} retries");
        }
        (position, 0, Utc::now())
    } else {
        let backoff = chrono::Duration::seconds(1 << failures);
        (due.cursor, failures, Utc::now() + backoff)
    };
    store
        .release_webhook(
            node,
            webhook.id,
            Some(attempt),
            cursor,
            failures,
            next_attempt,
        )
        .await?;
    Ok(true)
}

/// One POST of `change`'s event to the webhook; the attempt as recorded, and whether it was taken.
async fn attempt(
    state: &AppState,
    http: &reqwest::Client,
    due: &Due,
    change: &Change,
) -> (Delivery, bool) {
    let webhook = &due.webhook;
    let event_type = events::event_type(change).unwrap_or_default();
    let body = events::event(change, event_type.clone());
    let event_id = body["id"].as_str().unwrap_or_default().to_owned();
    let mut delivery = Delivery {
        id: DeliveryId::new(),
        webhook_id: webhook.id,
        event_id,
        event_type,
        attempted_at: Utc::now(),
        duration_ms: 0,
        status_code: None,
        success: false,
        error: None,
        error_kind: None,
        response: None,
    };
    if let Err(err) = Endpoint::parse(&webhook.endpoint, state.app.webhook_hosts()) {
        delivery.error = Some(err.to_string());
        delivery.error_kind = Some("host_not_allowed".into());
        return (delivery, false);
    }
    let raw = body.to_string();
    let started = Instant::now();
    let sent = http
        .post(&webhook.endpoint)
        .header("content-type", "application/json")
        .header(
            "Polytomic-Signature",
            signature(&webhook.secret, raw.as_bytes()),
        )
        .body(raw)
        .send()
        .await;
    let outcome = match sent {
        Ok(response) => {
            let status = response.status();
            delivery.status_code = Some(i64::from(status.as_u16()));
            let text = response.text().await.unwrap_or_default();
            delivery.response = Some(text.chars().take(EXCERPT).collect());
            if status.is_success() {
                delivery.success = true;
            } else {
                delivery.error_kind = Some(
                    if status.is_redirection() {
                        "redirect"
                    } else {
                        "status"
                    }
                    .into(),
                );
                delivery.error = Some(format!("the endpoint answered {status}"));
            }
            delivery.success
        }
        Err(err) => {
            delivery.error_kind = Some(
                if err.is_timeout() {
                    "timeout"
                } else if err.is_connect() {
                    "connect"
                } else {
                    "request"
                }
                .into(),
            );
            delivery.error = Some(err.to_string());
            false
        }
    };
    delivery.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    (delivery, outcome)
}

/// The hex HMAC-SHA256 of `body` under `secret` (RFC 2104).
pub fn signature(secret: &str, body: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut key = [0u8; BLOCK];
    if secret.len() > BLOCK {
        key[..32].copy_from_slice(&Sha256::digest(secret.as_bytes()));
    } else {
        key[..secret.len()].copy_from_slice(secret.as_bytes());
    }
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than a block is hashed first (RFC 4231, test case 6, with a text key).
        let long = "k".repeat(131);
        assert_ne!(signature(&long, b"x"), signature(&long[..64], b"x"));
    }
}
