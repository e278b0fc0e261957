-- Sessions of the web admin UI, kept here so that they survive a restart and hold across
-- instances. The cookie's secret is never stored: only its SHA-256 digest. A session ends on
-- sign-out, when unused for the idle timeout (`idle_expires_at`, pushed forward as it is used),
-- or at `expires_at` whatever its use; ended rows are deleted when the next session starts.
CREATE TABLE ui_sessions (
    digest           BYTEA PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,   -- names the session in the audit log
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    idle_expires_at  BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX ui_sessions_user ON ui_sessions(user_id);
