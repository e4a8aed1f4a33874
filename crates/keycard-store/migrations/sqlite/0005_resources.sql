-- Registered resources (keycard_core::model::Resource): found by (organization, type, id), each
-- with an optional owner and its attributes as compact JSON text. Deleting the owner clears the
-- owner; the store does it itself, recording each change, and the foreign key only backs it up.
CREATE TABLE resources (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    owner_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, type, id)
);

CREATE INDEX resources_by_owner ON resources (owner_id) WHERE owner_id IS NOT NULL;
