-- IIIF Authorization Flow 2.0: a viewer's sign-in at the access service (the access cookie) and
-- the access tokens the token service issues from it. Neither secret is stored, only its
-- SHA-256 digest. A token belongs to the session it was issued from and ends with it (sign-out
-- deletes both); each is bound to the origin it was issued for. Expired rows are deleted when
-- the next one of their kind is written.
CREATE TABLE iiif_sessions (
    digest      BYTEA PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    origin      TEXT,                  -- the client origin the access service was opened for
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX iiif_sessions_expiry ON iiif_sessions(expires_at);

CREATE TABLE iiif_tokens (
    digest      BYTEA PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES iiif_sessions(id) ON DELETE CASCADE,
    origin      TEXT,                  -- the origin the token was posted to
    expires_at  BIGINT NOT NULL
);
CREATE INDEX iiif_tokens_session ON iiif_tokens(session_id);
CREATE INDEX iiif_tokens_expiry ON iiif_tokens(expires_at);
