-- Decision keys: an API key may belong to no account, as an organization's key for its policy
-- enforcement points (keycard_core::model::ApiKey). SQLite cannot drop a NOT NULL constraint, so
-- the table is rebuilt; no table refers to it.
CREATE TABLE api_keys_new (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
INSERT INTO api_keys_new (id, organization_id, account_id, name, secret_hash, created_at, last_used_at, revoked_at)
    SELECT id, organization_id, account_id, name, secret_hash, created_at, last_used_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_by_account ON api_keys (account_id);
CREATE INDEX decision_keys_by_organization ON api_keys (organization_id) WHERE account_id IS NULL;
