-- Named workspaces created through /workspaces, PostgreSQL; same semantics as
-- migrations/sqlite/0010_workspaces.sql (those of the configuration file are not stored).
--
-- One row per name; the definition is the workspace JSON (Scale's v6 shape with our
-- additions) as validated, including any S3 keys given in it: the database is as secret
-- as the configuration file (answers never show them). Times are BIGINT microseconds since
-- the Unix epoch, UTC, as in `jobs`.

CREATE TABLE workspaces (
    -- The workspace name (workspace://<name>/...).
    name       TEXT   NOT NULL PRIMARY KEY,
    -- The definition, as JSON text (TEXT as for manifests: kept as written).
    definition TEXT   NOT NULL,
    -- When it was created (µs); an update keeps it.
    created    BIGINT NOT NULL,
    -- When it was last created or updated (µs).
    updated    BIGINT NOT NULL
);
