-- Registered resources (keycard_core::model::Resource): found by (organization, type, id), each
-- with an optional owner and its attributes as compact JSON text. Deleting the owner clears the
-- owner; the store does it itself, recording each change, and the foreign key only backs it up.
-- Types and ids compare byte by byte (`C`), as on SQLite, whatever the database's collation: pages
-- come in the same order on both.
CREATE TABLE resources (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    owner_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, type, id)
);

CREATE INDEX resources_by_owner ON resources (owner_id) WHERE owner_id IS NOT NULL;
