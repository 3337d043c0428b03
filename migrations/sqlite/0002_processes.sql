-- Deployed processes (OGC API - Processes Part 2). Forward-only, like 0001_jobs.sql.
--
-- One row per process id: the package exactly as deployed (served back and used to
-- rebuild the process after a restart), the image it named and the pinned reference jobs
-- run. The primary key decides duplicate deploys, so two deploys of one id cannot both
-- succeed. Times are INTEGER microseconds since the Unix epoch, UTC, as in `jobs`.

CREATE TABLE deployed_processes (
    -- The process id (the Seed job name).
    id                 TEXT    NOT NULL PRIMARY KEY,
    -- Media type of the package as deployed (application/ogcapppkg+json, ...).
    package_media_type TEXT    NOT NULL,
    -- The package, byte for byte.
    package            BLOB    NOT NULL,
    -- The image reference as the package named it (registry/repo:tag).
    image              TEXT    NOT NULL,
    -- The digest-pinned reference jobs run.
    pinned_image       TEXT    NOT NULL,
    -- The validated Seed manifest, as JSON text.
    manifest           TEXT    NOT NULL,
    -- When the process was first deployed; a replace keeps it.
    deployed           INTEGER NOT NULL,
    -- When it was last deployed or replaced.
    updated            INTEGER NOT NULL
) STRICT;
