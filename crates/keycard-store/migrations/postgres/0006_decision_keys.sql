-- Decision keys: an API key may belong to no account, as an organization's key for its policy
-- enforcement points (keycard_core::model::ApiKey).
ALTER TABLE api_keys ALTER COLUMN account_id DROP NOT NULL;
CREATE INDEX decision_keys_by_organization ON api_keys (organization_id) WHERE account_id IS NULL;
