//! Webhooks and their deliveries. A webhook is not authorization state: its writes are plain
//! statements, outside the change log (as sessions are). Its place in the log and its lease are
//! columns of its row (see migration 0007).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keycard_core::change::Revision;
use keycard_core::ids::{OrganizationId, WebhookId};
use keycard_core::store::WebhookStore;
use keycard_core::webhook::{Delivery, DeliveryFilter, Due, Webhook, WebhookSpec};
use keycard_core::{Error, Result};

use super::rows;
use super::{SqlStore, internal, millis, unavailable, unique_or};

const SELECT: &str = "SELECT id, organization_id, endpoint, secret, disabled, disabled_at, disabled_reason, created_at, cursor_revision, cursor_seq, failures FROM webhooks";

impl SqlStore {
    /// The log's end: a webhook made or enabled now delivers what comes after it.
    async fn log_end(&self) -> Result<(Revision, i32)> {
        Ok((self.latest().await?, i32::MAX))
    }

    async fn webhook_row(&self, org: OrganizationId, id: WebhookId) -> Result<Webhook> {
        let row = sqlx::query(&format!("{SELECT} WHERE organization_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::not_found("webhook", id))?;
        rows::webhook(&row)
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, org: OrganizationId, spec: WebhookSpec) -> Result<Webhook> {
        let id = WebhookId::new();
        let now = millis(Utc::now());
        let (revision, seq) = self.log_end().await?;
        // One per organization: the unique organization is what a second one collides on.
        let key = format!("of organization {org}");
        sqlx::query(
            "INSERT INTO webhooks (id, organization_id, endpoint, secret, disabled, created_at, updated_at, cursor_revision, cursor_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(spec.endpoint.as_str())
        .bind(&spec.secret)
        .bind(false)
        .bind(now)
        .bind(now)
        .bind(revision.0)
        .bind(i64::from(seq))
        .execute(&self.pool)
        .await
        .map_err(unique_or("webhook", &key))?;
        self.webhook_row(org, id).await
    }

    async fn list_webhooks(&self, org: OrganizationId) -> Result<Vec<Webhook>> {
        sqlx::query(&format!("{SELECT} WHERE organization_id = $1 ORDER BY id"))
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::webhook)
            .collect()
    }

    async fn get_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<Webhook> {
        self.webhook_row(org, id).await
    }

    async fn update_webhook(
        &self,
        org: OrganizationId,
        id: WebhookId,
        spec: WebhookSpec,
    ) -> Result<Webhook> {
        let changed = sqlx::query(
            "UPDATE webhooks SET endpoint = $1, secret = $2, updated_at = $3 WHERE organization_id = $4 AND id = $5",
        )
        .bind(spec.endpoint.as_str())
        .bind(&spec.secret)
        .bind(millis(Utc::now()))
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if changed == 0 {
            return Err(Error::not_found("webhook", id));
        }
        self.webhook_row(org, id).await
    }

    async fn delete_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM webhooks WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if deleted == 0 {
            return Err(Error::not_found("webhook", id));
        }
        Ok(())
    }

    async fn set_webhook_disabled(
        &self,
        org: OrganizationId,
        id: WebhookId,
        disabled: bool,
    ) -> Result<Webhook> {
        let now = millis(Utc::now());
        if disabled {
            sqlx::query(
                "UPDATE webhooks SET disabled = $1, disabled_at = $2, disabled_reason = $3, updated_at = $2 \
                 WHERE organization_id = $4 AND id = $5 AND disabled = $6",
            )
            .bind(true)
            .bind(now)
            .bind("disabled through the API")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(false)
            .execute(&self.pool)
            .await
        } else {
            // Nothing was kept while it was disabled: it delivers what happens from now on.
            let (revision, seq) = self.log_end().await?;
            sqlx::query(
                "UPDATE webhooks SET disabled = $1, disabled_at = NULL, disabled_reason = NULL, updated_at = $2, \
                 cursor_revision = $3, cursor_seq = $4, failures = 0, next_attempt_at = 0 \
                 WHERE organization_id = $5 AND id = $6 AND disabled = $7",
            )
            .bind(false)
            .bind(now)
            .bind(revision.0)
            .bind(i64::from(seq))
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(true)
            .execute(&self.pool)
            .await
        }
        .map_err(unavailable)?;
        // One already as asked was left as it is.
        self.webhook_row(org, id).await
    }

    async fn list_deliveries(
        &self,
        org: OrganizationId,
        id: WebhookId,
        filter: &DeliveryFilter,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        self.webhook_row(org, id).await?;
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (millis(*at), id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let rows = sqlx::query(
            "SELECT id, webhook_id, event_id, event_type, attempted_at, duration_ms, status_code, success, error, error_kind, response \
             FROM webhook_deliveries WHERE webhook_id = $1 \
             AND ($2 < 0 OR success = $3) AND ($4 = '' OR event_id = $4) \
             AND attempted_at >= $5 AND attempted_at < $6 \
             AND (attempted_at < $7 OR (attempted_at = $7 AND ($8 = '' OR id < $8))) \
             ORDER BY attempted_at DESC, id DESC LIMIT $9",
        )
        .bind(id.to_string())
        .bind(match filter.success {
            None => -1i64,
            Some(_) => 0,
        })
        .bind(filter.success.unwrap_or(false))
        .bind(filter.event_id.clone().unwrap_or_default())
        .bind(filter.start.map_or(i64::MIN, millis))
        .bind(filter.end.map_or(i64::MAX, millis))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(rows::delivery).collect()
    }

    async fn lease_due_webhook(
        &self,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Due>> {
        let now = millis(now);
        // Looked for with a read first: with no webhook due, a poll takes no write lock.
        let candidate: Option<String> = sqlx::query_scalar(
            "SELECT id FROM webhooks WHERE disabled = $1 AND next_attempt_at <= $2 \
             AND (leased_by IS NULL OR lease_until <= $2) \
             AND (cursor_revision < (SELECT value FROM kc_revision) OR cursor_seq < $3) \
             ORDER BY next_attempt_at, id LIMIT 1",
        )
        .bind(false)
        .bind(now)
        // A place inside a revision: the rest of it may hold more of the organization's events.
        .bind(i64::from(i32::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let taken = sqlx::query(
            "UPDATE webhooks SET leased_by = $1, lease_until = $2 WHERE id = $3 \
             AND disabled = $4 AND (leased_by IS NULL OR lease_until <= $5)",
        )
        .bind(node)
        .bind(millis(until))
        .bind(&id)
        .bind(false)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if taken == 0 {
            // Another node took it first.
            return Ok(None);
        }
        let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        let revision: i64 = row_integer(&row, "cursor_revision")?;
        let seq: i64 = row_integer(&row, "cursor_seq")?;
        let failures: i64 = row_integer(&row, "failures")?;
        Ok(Some(Due {
            webhook: rows::webhook(&row)?,
            cursor: (Revision(revision), i32::try_from(seq).unwrap_or(i32::MAX)),
            failures: u32::try_from(failures).unwrap_or(0),
        }))
    }

    async fn release_webhook(
        &self,
        node: &str,
        id: WebhookId,
        attempt: Option<Delivery>,
        cursor: (Revision, i32),
        failures: u32,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        if let Some(attempt) = attempt {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, attempted_at, duration_ms, status_code, success, error, error_kind, response) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(attempt.id.to_string())
            .bind(attempt.webhook_id.to_string())
            .bind(attempt.event_id)
            .bind(attempt.event_type)
            .bind(millis(attempt.attempted_at))
            .bind(attempt.duration_ms)
            .bind(attempt.status_code)
            .bind(attempt.success)
            .bind(attempt.error)
            .bind(attempt.error_kind)
            .bind(attempt.response)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        sqlx::query(
            "UPDATE webhooks SET cursor_revision = $1, cursor_seq = $2, failures = $3, next_attempt_at = $4, \
             leased_by = NULL, lease_until = 0 WHERE id = $5 AND leased_by = $6",
        )
        .bind(cursor.0.0)
        .bind(i64::from(cursor.1))
        .bind(i64::from(failures))
        .bind(millis(next_attempt_at))
        .bind(id.to_string())
        .bind(node)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }
}

fn row_integer(row: &sqlx::any::AnyRow, column: &str) -> Result<i64> {
    sqlx::Row::try_get::<i64, _>(row, column).map_err(internal)
}
