-- Every operator change (CLI, admin API, web UI) writes one row here in the transaction that
-- makes the change, so a change and its entry commit together or not at all. `id` orders the
-- log and is the listing cursor. `details` is JSON of what changed, never a secret.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,      -- a user's name, or the operating-system user of the CLI
    source       TEXT NOT NULL,      -- `cli`, or the client's address
    action       TEXT NOT NULL,      -- `application.create`, `key.revoke`, ...
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    details      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_actor ON audit_log(actor);
CREATE INDEX audit_log_action ON audit_log(action);
CREATE INDEX audit_log_target ON audit_log(target_type, target_id);
