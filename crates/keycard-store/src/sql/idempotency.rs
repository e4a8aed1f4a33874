//! Idempotency keys, remembered per organization.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keycard_core::Result;
use keycard_core::ids::OrganizationId;
use keycard_core::store::{IdempotencyStore, IdempotentRecord};
use sqlx::Row;

use super::{SqlStore, from_millis, internal, millis, unavailable};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn claim_idempotency_key(
        &self,
        org: OrganizationId,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expire_before: DateTime<Utc>,
    ) -> Result<Option<IdempotentRecord>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Expired records and abandoned claims make way for the new request.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 \
             AND (created_at < $3 OR (state = 'in_flight' AND created_at < $4))",
        )
        .bind(org.to_string())
        .bind(key)
        .bind(millis(expire_before))
        .bind(millis(stale_before))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (organization_id, key, fingerprint, state, created_at) VALUES ($1, $2, $3, 'in_flight', $4) ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(key)
        .bind(fingerprint)
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        let existing = if inserted > 0 {
            None
        } else {
            let row = sqlx::query(
                "SELECT fingerprint, state, status, content_type, body, created_at FROM idempotency_keys WHERE organization_id = $1 AND key = $2",
            )
            .bind(org.to_string())
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
            let fingerprint: String = row.try_get("fingerprint").map_err(internal)?;
            let state: String = row.try_get("state").map_err(internal)?;
            Some(if state == "done" {
                IdempotentRecord::Done {
                    fingerprint,
                    status: row
                        .try_get::<Option<i64>, _>("status")
                        .map_err(internal)?
                        .unwrap_or(500) as u16,
                    content_type: row
                        .try_get::<Option<String>, _>("content_type")
                        .map_err(internal)?
                        .unwrap_or_default(),
                    body: row
                        .try_get::<Option<Vec<u8>>, _>("body")
                        .map_err(internal)?
                        .unwrap_or_default(),
                }
            } else {
                IdempotentRecord::InFlight {
                    fingerprint,
                    started_at: from_millis(row.try_get("created_at").map_err(internal)?),
                }
            })
        };
        tx.commit().await.map_err(unavailable)?;
        Ok(existing)
    }

    async fn complete_idempotency_key(
        &self,
        org: OrganizationId,
        key: &str,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET state = 'done', status = $1, content_type = $2, body = $3 WHERE organization_id = $4 AND key = $5")
            .bind(i64::from(status))
            .bind(content_type)
            .bind(body)
            .bind(org.to_string())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release_idempotency_key(&self, org: OrganizationId, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 AND state = 'in_flight'")
            .bind(org.to_string())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
