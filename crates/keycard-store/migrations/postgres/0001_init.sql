-- Keycard schema, version 1, PostgreSQL. Times are milliseconds since the Unix epoch; ids are UUID
-- text. Kept column for column with the SQLite schema: one body of SQL serves both.

CREATE TABLE kc_revision (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    value BIGINT NOT NULL
);
INSERT INTO kc_revision (singleton, value) VALUES (1, 0);

CREATE TABLE changes (
    revision BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    organization_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    before TEXT,
    after TEXT,
    PRIMARY KEY (revision, seq)
);
CREATE INDEX changes_by_organization ON changes (organization_id, revision);
CREATE INDEX changes_by_time ON changes (organization_id, at);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    actions TEXT NOT NULL,
    sso TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    email TEXT,
    first_name TEXT NOT NULL,
    provenance TEXT NOT NULL,
    inactive BOOLEAN NOT NULL,
    service_account BOOLEAN NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, username)
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    provenance TEXT NOT NULL,
    inactive BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    provenance TEXT NOT NULL,
    system BOOLEAN NOT NULL,
    inactive BOOLEAN NOT NULL,
    methods TEXT NOT NULL,
    views TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE account_groups (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, group_id)
);
CREATE INDEX account_groups_by_group ON account_groups (group_id);

CREATE TABLE group_parents (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    parent_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, parent_id),
    CHECK (group_id <> parent_id)
);
CREATE INDEX group_parents_by_parent ON group_parents (parent_id);

CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, role_id)
);
CREATE INDEX account_roles_by_role ON account_roles (role_id);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_by_role ON group_roles (role_id);

CREATE TABLE methods (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provenance TEXT NOT NULL,
    name TEXT NOT NULL,
    deprecated BOOLEAN NOT NULL,
    route_verb TEXT,
    route_path TEXT,
    PRIMARY KEY (organization_id, provenance, name)
);

CREATE TABLE views (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provenance TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (organization_id, provenance, path)
);

-- Policy actions keep role ids without a foreign key: a deleted role's id stays and grants nothing.
CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    system BOOLEAN NOT NULL,
    actions TEXT NOT NULL,
    resources TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_account ON sessions (account_id);

-- Idempotency keys: the first outcome of a keyed request, replayed to later ones.
CREATE TABLE idempotency_keys (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status INTEGER,
    content_type TEXT,
    body BYTEA,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, key)
);
