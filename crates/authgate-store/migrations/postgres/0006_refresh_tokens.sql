-- Refresh tokens (RFC 6749 §6), rotated on use: each use marks the token used and issues the
-- next one of the same family; presenting a used token again revokes the whole family (a sign
-- that it was stolen). Only the SHA-256 digest of a token is stored.
CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    digest       BYTEA NOT NULL UNIQUE,
    family_id    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    used_at      BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
