-- The version of the records a change holds in `before` and `after` (keycard_core::record): a
-- reader refuses a change recorded in a version newer than it knows. Every change so far is
-- version 1.
ALTER TABLE changes ADD COLUMN record_version INTEGER NOT NULL DEFAULT 1;
