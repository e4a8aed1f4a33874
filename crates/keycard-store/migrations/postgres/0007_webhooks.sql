-- Webhooks (Polytomic's API): one per organization, delivering the organization's events from the
-- change log. The webhook row holds its place in the log (`cursor_*`: the last change delivered or
-- given up on), the retry state of the next one, and the lease of the node delivering it, so that
-- the log itself is the outbox: a node killed mid-delivery loses nothing, and exactly one node
-- delivers at a time.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL UNIQUE REFERENCES organizations (id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    secret TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at BIGINT,
    disabled_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cursor_revision BIGINT NOT NULL,
    cursor_seq BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    leased_by TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
-- Every attempt to deliver an event, newest first by time.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    success BOOLEAN NOT NULL,
    error TEXT,
    error_kind TEXT,
    response TEXT
);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (webhook_id, attempted_at, id);
