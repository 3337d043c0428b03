-- Deployed processes (OGC API - Processes Part 2), PostgreSQL. Forward-only, like
-- 0001_jobs.sql; same semantics as migrations/sqlite/0002_processes.sql.
--
-- One row per process id: the package exactly as deployed (served back and used to
-- rebuild the process after a restart), the image it named and the pinned reference jobs
-- run. The primary key decides duplicate deploys, so two replicas deploying one id at once
-- cannot both succeed. Times are BIGINT microseconds since the Unix epoch, UTC, as in `jobs`.

CREATE TABLE deployed_processes (
    -- The process id (the Seed job name).
    id                 TEXT   NOT NULL PRIMARY KEY,
    -- Media type of the package as deployed (application/ogcapppkg+json, ...).
    package_media_type TEXT   NOT NULL,
    -- The package, byte for byte.
    package            BYTEA  NOT NULL,
    -- The image reference as the package named it (registry/repo:tag).
    image              TEXT   NOT NULL,
    -- The digest-pinned reference jobs run.
    pinned_image       TEXT   NOT NULL,
    -- The validated Seed manifest, as JSON text. TEXT, not JSONB: JSONB refuses \u0000
    -- escapes in strings, which are valid JSON a manifest may hold, and nothing queries
    -- inside the manifest, so the text is kept as written.
    manifest           TEXT   NOT NULL,
    -- When the process was first deployed (µs since the epoch); a replace keeps it.
    deployed           BIGINT NOT NULL,
    -- When it was last deployed or replaced (µs).
    updated            BIGINT NOT NULL
);
