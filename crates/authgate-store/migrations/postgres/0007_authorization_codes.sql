-- The authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636). Applications register the
-- redirect URIs codes may be sent to; a redirect must match one exactly.
CREATE TABLE app_redirect_uris (
    app_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    uri     TEXT NOT NULL,
    PRIMARY KEY (app_id, uri)
);

-- Codes live a minute and work once. Only the SHA-256 digest of a code is stored.
CREATE TABLE authorization_codes (
    digest          BYTEA PRIMARY KEY,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    subject         TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    nonce           TEXT,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
