-- The token service (SPEC §5). Signing keys: the newest unretired one signs; retired ones stay
-- in the JWKS until `publish_until`, when the last token they signed has expired. `seq` is the
-- order keys were added in, which breaks ties between keys created in the same second.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,
    alg            TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    private_pem    TEXT NOT NULL,      -- PKCS#8; never leaves the process that signs
    public_jwk     TEXT NOT NULL,      -- JSON, as published
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT,
    publish_until  BIGINT
);

-- Access tokens revoked before their expiry (RFC 7009), by `jti`; rows can go once expired.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL
);
