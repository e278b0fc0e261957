-- Tenants own users; users own applications; applications own keys (SPEC §3).
-- Times are Unix seconds. Secrets are never stored: keys and admin tokens keep a SHA-256 digest
-- and a display prefix only.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE applications (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    owner_id      TEXT REFERENCES users(id),
    name          TEXT NOT NULL,
    mode          TEXT NOT NULL CHECK (mode IN ('api-key', 'app-id-key', 'app-id')),
    suspended_at  BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX applications_owner ON applications(owner_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    digest        BYTEA NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    name          TEXT,
    scopes        TEXT NOT NULL DEFAULT '',
    expires_at    BIGINT,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX api_keys_app ON api_keys(app_id);

CREATE TABLE admin_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    digest      BYTEA NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Every change to something a running gateway may have cached appends a row here, in the same
-- transaction. Gateways poll the highest seq and drop their caches when it moves, so a change
-- made by the CLI or another instance takes effect within the poll interval.
CREATE TABLE changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);

-- One row once the first start has created the admin user and token, so later starts (and
-- instances racing on an empty store) never do it again.
CREATE TABLE bootstrap (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    done_at  BIGINT NOT NULL
);
