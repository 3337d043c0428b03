-- Jobs and their audit trail (PostgreSQL). Forward-only: never edit a migration once
-- released (sqlx checks each file's checksum); change the schema with a new numbered file.
--
-- Same semantics as migrations/sqlite/0001_jobs.sql. Times are BIGINT microseconds since
-- the Unix epoch, UTC: they sort and subtract as plain numbers, so ordering, interval
-- filters and durations stay in SQL and match the SQLite backend to the microsecond.

CREATE TABLE jobs (
    -- The job id: a lower-case hyphenated UUID.
    id            TEXT    NOT NULL PRIMARY KEY,
    -- The process (Seed job name) this job runs.
    process_id    TEXT    NOT NULL,
    -- OGC status; only the transitions of JobStatus::can_become are ever written.
    status        TEXT    NOT NULL
                  CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    -- Human-readable status message (progress note, reason for failure, ...); NULL = none.
    message       TEXT,
    -- Percent done as the worker last reported it; NULL = unknown.
    progress      INTEGER CHECK (progress BETWEEN 0 AND 100),
    -- When the job was submitted (µs since the epoch).
    created       BIGINT  NOT NULL,
    -- When a worker first claimed it; kept on later attempts (OGC `started` = first start).
    started       BIGINT,
    -- When it reached a final status.
    finished      BIGINT,
    -- When its status, message or progress last changed (lease renewals do not count).
    updated       BIGINT  NOT NULL,
    -- The validated execute request (domain::ExecuteRequest).
    request       JSONB   NOT NULL,
    -- Outputs of a successful job (domain::JobResults); NULL otherwise.
    results       JSONB,
    -- Why a failed job failed (seed::errors::JobFailure); NULL otherwise.
    failure       JSONB,
    -- How many times a worker has claimed the job (0 until the first claim).
    attempt       INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    -- Higher runs first; equal priorities run oldest first.
    priority      INTEGER NOT NULL DEFAULT 0,
    -- The worker holding the lease while the job is running; NULL otherwise.
    lease_owner   TEXT,
    -- When that lease ends unless renewed (µs); the reaper takes the job back after it.
    lease_expires BIGINT
);

-- The claim query: next accepted job by priority, then age.
CREATE INDEX jobs_claim_order ON jobs (priority DESC, created, id) WHERE status = 'accepted';
-- Job lists: newest first, stable for equal creation times.
CREATE INDEX jobs_newest_first ON jobs (created DESC, id DESC);
-- Job lists filtered by process.
CREATE INDEX jobs_by_process ON jobs (process_id, created DESC);
-- The reaper: running jobs by lease end.
CREATE INDEX jobs_running_leases ON jobs (lease_expires) WHERE status = 'running';

CREATE TABLE job_events (
    -- Write order across all jobs; a job's events sorted by seq are oldest first (a job's
    -- status changes are serialised by its row lock, so their seq values are in order).
    seq           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The job whose status changed.
    job_id        TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- When the change happened (µs since the epoch).
    at            BIGINT  NOT NULL,
    -- The status the job entered.
    status        TEXT    NOT NULL
                  CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    -- Why or how (e.g. "requeued: worker lost"); NULL = nothing to add.
    message       TEXT
);

-- A job's trail, in order.
CREATE INDEX job_events_by_job ON job_events (job_id, seq);
