-- Users, roles and job ownership (README, "Authentication and ownership"). Forward-only,
-- like 0001_jobs.sql. Times are BIGINT microseconds since the Unix epoch. Users are not a
-- table of their own: a user is the subject of a token or the user of an API key.

-- The user who submitted the job (a token's `sub`, an API key's user); NULL for jobs
-- submitted with authentication off (they belong to the server's operator).
ALTER TABLE jobs ADD COLUMN owner TEXT;

-- A user's jobs, newest first (`GET /jobs` of a non-admin), and the per-user limit's count.
CREATE INDEX jobs_by_owner ON jobs (owner, created DESC, id DESC) WHERE owner IS NOT NULL;

CREATE TABLE api_keys (
    -- The key's public id (`ades keys revoke ID`); not secret.
    id            TEXT    NOT NULL PRIMARY KEY,
    -- The SHA-256 of the whole key, lower-case hex; the key itself is never stored.
    key_hash      TEXT    NOT NULL UNIQUE,
    -- The user the key acts as.
    user_name     TEXT    NOT NULL,
    -- Its roles, comma-separated (admin, user, reader).
    roles         TEXT    NOT NULL,
    -- A note of what the key is for; '' = none.
    name          TEXT    NOT NULL DEFAULT '',
    -- When it was made.
    created       BIGINT  NOT NULL,
    -- When it was revoked; NULL while it works.
    revoked       BIGINT
);

CREATE TABLE audit (
    -- Write order.
    seq           BIGSERIAL PRIMARY KEY,
    -- When it happened.
    at            BIGINT  NOT NULL,
    -- Who did it: a user, `admin-token` (the operator's token) or `anonymous`.
    actor         TEXT    NOT NULL,
    -- What: deploy, replace, undeploy, submit, dismiss.
    action        TEXT    NOT NULL,
    -- What it was done to: a process id or a job id.
    target        TEXT    NOT NULL,
    -- More about it (the process of a submitted job); '' = nothing.
    detail        TEXT    NOT NULL DEFAULT ''
);

-- Newest first.
CREATE INDEX audit_newest_first ON audit (at DESC, seq DESC);
