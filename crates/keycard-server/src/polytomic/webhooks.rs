//! `/api/webhooks`: the organization's webhook, as the official SDK drives it
//! (`client.webhooks.create|list|get|update|delete|disable|enable|list_deliveries`). One webhook
//! per organization; every event of the organization (see `/api/events_types`) is POSTed to it,
//! signed (see `crate::webhook_delivery`). A webhook is not authorization state: its writes make
//! no revision.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::DateTime;
use keycard_core::ids::{DeliveryId, OrganizationId, WebhookId};
use keycard_core::webhook::{Delivery, DeliveryFilter, Webhook};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{invalid, parse_time, timestamp};
use super::{PolyCaller, PolyError, PolyJson, data, path_id};
use crate::state::AppState;

/// Deliveries per page.
const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    endpoint: String,
    secret: String,
    #[serde(default)]
    organization_id: Option<OrganizationId>,
}

/// A webhook as the SDK reads it; the secret is never shown again.
fn document(webhook: &Webhook) -> Value {
    json!({
        "id": webhook.id,
        "organization_id": webhook.organization_id,
        "endpoint": webhook.endpoint,
        "disabled": webhook.disabled,
        "disabled_at": webhook.disabled_at.as_ref().map(timestamp),
        "disabled_reason": webhook.disabled_reason,
        "created_at": timestamp(&webhook.created_at),
    })
}

fn delivery_document(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "attempted_at": timestamp(&delivery.attempted_at),
        "duration_ms": delivery.duration_ms,
        "status_code": delivery.status_code,
        "success": delivery.success,
        "error": delivery.error,
        "error_kind": delivery.error_kind,
        "response": delivery.response,
    })
}

pub async fn list_webhooks(
    State(state): State<AppState>,
    caller: PolyCaller,
) -> Result<Response, PolyError> {
    let webhooks = state.app.list_webhooks(&caller.0).await?;
    Ok(data(webhooks.iter().map(document).collect()))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    PolyJson(body): PolyJson<WebhookBody>,
) -> Result<Response, PolyError> {
    let caller = caller.in_organization(body.organization_id)?;
    let webhook = state
        .app
        .create_webhook(&caller, &body.endpoint, body.secret)
        .await?;
    Ok(data(document(&webhook)))
}

pub async fn get_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    let webhook = state
        .app
        .read_webhook(&caller.0, path_id::<WebhookId>("webhook", &id)?)
        .await?;
    Ok(data(document(&webhook)))
}

pub async fn update_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    PolyJson(body): PolyJson<WebhookBody>,
) -> Result<Response, PolyError> {
    let caller = caller.in_organization(body.organization_id)?;
    let webhook = state
        .app
        .update_webhook(
            &caller,
            path_id::<WebhookId>("webhook", &id)?,
            &body.endpoint,
            body.secret,
        )
        .await?;
    Ok(data(document(&webhook)))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    state
        .app
        .delete_webhook(&caller.0, path_id::<WebhookId>("webhook", &id)?)
        .await?;
    Ok(data(Value::Null))
}

async fn set_disabled(
    state: &AppState,
    caller: &PolyCaller,
    id: &str,
    disabled: bool,
) -> Result<Response, PolyError> {
    let webhook = state
        .app
        .set_webhook_disabled(&caller.0, path_id::<WebhookId>("webhook", id)?, disabled)
        .await?;
    Ok(data(document(&webhook)))
}

pub async fn disable_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    set_disabled(&state, &caller, &id, true).await
}

pub async fn enable_webhook(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
) -> Result<Response, PolyError> {
    set_disabled(&state, &caller, &id, false).await
}

/// `GET /api/webhooks/{id}/deliveries?success=&event_id=&start=&end=&page_token=`: attempts,
/// newest first; `pagination.next_page_token` reads on, and is empty on the last page.
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: PolyCaller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PolyError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|err| invalid(format!("the query string is malformed: {err}")))?;
    let mut filter = DeliveryFilter::default();
    for (name, value) in pairs {
        match name.as_str() {
            "success" => {
                filter.success = Some(match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(invalid(format!(
                            "`success` is true or false, not `{value}`"
                        )));
                    }
                })
            }
            "event_id" => filter.event_id = Some(value),
            "start" => filter.start = Some(parse_time(&name, &value)?),
            "end" => filter.end = Some(parse_time(&name, &value)?),
            "page_token" if value.is_empty() => {}
            "page_token" => {
                let token = value
                    .split_once('_')
                    .and_then(|(at, id)| {
                        Some((
                            DateTime::from_timestamp_millis(at.parse().ok()?)?,
                            id.parse::<DeliveryId>().ok()?,
                        ))
                    })
                    .ok_or_else(|| invalid(format!("`page_token` `{value}` is not a token")))?;
                filter.before = Some(token);
            }
            other => return Err(invalid(format!("unknown query parameter `{other}`"))),
        }
    }
    let id = path_id::<WebhookId>("webhook", &id)?;
    let mut deliveries = state
        .app
        .list_deliveries(&caller.0, id, &filter, PAGE + 1)
        .await?;
    let next = if deliveries.len() > PAGE as usize {
        deliveries.truncate(PAGE as usize);
        deliveries
            .last()
            .map(|last| format!("{}_{}", last.attempted_at.timestamp_millis(), last.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        json!({
            "data": deliveries.iter().map(delivery_document).collect::<Vec<_>>(),
            "pagination": {"next_page_token": next},
        }),
    )))
}
