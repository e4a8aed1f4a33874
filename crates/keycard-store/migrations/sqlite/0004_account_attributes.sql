-- An account's attributes (keycard_core::attributes): a JSON object conditions read, kept as its
-- compact JSON text like the other JSON columns. Every account so far has none.
ALTER TABLE accounts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
