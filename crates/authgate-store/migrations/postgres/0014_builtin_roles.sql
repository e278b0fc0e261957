-- The built-in roles are stored as names (their permissions are authgate's own, not stored),
-- so that a grant of any role passes one existence check, and no custom role can take a
-- built-in one's name.
ALTER TABLE roles ADD COLUMN builtin BOOLEAN NOT NULL DEFAULT FALSE;
INSERT INTO roles (name, permissions, created_at, builtin) VALUES
    ('admin', '', 0, TRUE),
    ('viewer', '', 0, TRUE)
ON CONFLICT (name) DO UPDATE SET permissions = '', builtin = TRUE;
