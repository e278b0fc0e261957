-- The built-in roles are stored as names (their permissions are authgate's own, not stored),
-- so that a grant of any role passes one existence check, and no custom role can take a
-- built-in one's name.
ALTER TABLE roles ADD COLUMN builtin INTEGER NOT NULL DEFAULT 0;
INSERT INTO roles (name, permissions, created_at, builtin) VALUES
    ('admin', '', 0, 1),
    ('viewer', '', 0, 1)
ON CONFLICT (name) DO UPDATE SET permissions = '', builtin = 1;
