-- Custom roles (the built-in `admin` and `viewer` are not stored) and roles given to an
-- application itself; an application without roles of its own acts with its owner's.

CREATE TABLE roles (
    name         TEXT PRIMARY KEY,
    permissions  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE app_roles (
    app_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (app_id, role)
);
