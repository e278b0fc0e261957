-- Access tokens and ID tokens are signed by keys of their own (OpenID relying parties expect
-- RS256 ID tokens by default); a rotation retires the active key of its purpose only. Keys from
-- before this migration signed both and go on signing access tokens; the next `serve` creates
-- the ID-token key.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access-tokens'
    CHECK (purpose IN ('access-tokens', 'id-tokens'));
