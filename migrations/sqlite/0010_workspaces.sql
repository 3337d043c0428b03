-- Named workspaces created through /workspaces (those of the configuration file are not
-- stored). Forward-only, like 0001_jobs.sql.
--
-- One row per name; the definition is the workspace JSON (Scale's v6 shape with our
-- additions) as validated, including any S3 keys given in it: the database is as secret
-- as the configuration file (answers never show them). Times are INTEGER microseconds
-- since the Unix epoch, UTC, as in `jobs`.

CREATE TABLE workspaces (
    -- The workspace name (workspace://<name>/...).
    name       TEXT    NOT NULL PRIMARY KEY,
    -- The definition, as JSON text.
    definition TEXT    NOT NULL,
    -- When it was created; an update keeps it.
    created    INTEGER NOT NULL,
    -- When it was last created or updated.
    updated    INTEGER NOT NULL
) STRICT;
