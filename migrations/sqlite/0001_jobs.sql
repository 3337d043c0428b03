-- Jobs and their audit trail. Forward-only: never edit a migration once released (sqlx
-- checks each file's checksum); change the schema with a new numbered file.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC: they sort and subtract as plain
-- numbers, so ordering, interval filters and durations stay in SQL.

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
    -- When the job was submitted.
    created       INTEGER NOT NULL,
    -- When a worker first claimed it; kept on later attempts (OGC `started` = first start).
    started       INTEGER,
    -- When it reached a final status.
    finished      INTEGER,
    -- When its status, message or progress last changed (lease renewals do not count).
    updated       INTEGER NOT NULL,
    -- The validated execute request (domain::ExecuteRequest as JSON).
    request       TEXT    NOT NULL,
    -- Outputs of a successful job (domain::JobResults as JSON); NULL otherwise.
    results       TEXT,
    -- Why a failed job failed (seed::errors::JobFailure as JSON); NULL otherwise.
    failure       TEXT,
    -- How many times a worker has claimed the job (0 until the first claim).
    attempt       INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    -- Higher runs first; equal priorities run oldest first.
    priority      INTEGER NOT NULL DEFAULT 0,
    -- The worker holding the lease while the job is running; NULL otherwise.
    lease_owner   TEXT,
    -- When that lease ends unless renewed; the reaper takes the job back after it.
    lease_expires INTEGER
) STRICT;

-- The claim query: next accepted job by priority, then age.
CREATE INDEX jobs_claim_order ON jobs (status, priority DESC, created, id);
-- Job lists: newest first, stable for equal creation times.
CREATE INDEX jobs_newest_first ON jobs (created DESC, id DESC);
-- Job lists filtered by process.
CREATE INDEX jobs_by_process ON jobs (process_id, created DESC);
-- The reaper: running jobs by lease end.
CREATE INDEX jobs_running_leases ON jobs (lease_expires) WHERE status = 'running';

CREATE TABLE job_events (
    -- Write order across all jobs; a job's events sorted by seq are oldest first.
    seq           INTEGER NOT NULL PRIMARY KEY,
    -- The job whose status changed.
    job_id        TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- When the change happened.
    at            INTEGER NOT NULL,
    -- The status the job entered.
    status        TEXT    NOT NULL
                  CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    -- Why or how (e.g. "requeued: worker lost"); NULL = nothing to add.
    message       TEXT
) STRICT;

-- A job's trail, in order.
CREATE INDEX job_events_by_job ON job_events (job_id, seq);
