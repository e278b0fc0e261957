-- Access tokens issued within a grant family (an authorization code's redemption, a password
-- sign-in, and the refresh tokens that follow either), so that a reused code or refresh token,
-- or a revoked refresh token, revokes the access tokens already issued from it too
-- (RFC 6749 §4.1.2, RFC 7009 §2.1, RFC 9700 §4.14). Rows go once their token has expired.
CREATE TABLE family_access_tokens (
    jti         TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX family_access_tokens_family ON family_access_tokens(family_id);

-- The family a redeemed code started, found again if the code is presented a second time.
ALTER TABLE authorization_codes ADD COLUMN family_id TEXT;
