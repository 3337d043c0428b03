-- Scheduling across replicas: retry delays, per-process limits and the worker hosts.
-- Forward-only, like 0001_jobs.sql. Times are INTEGER microseconds since the Unix epoch.

-- A job requeued after a system failure waits until this time before a worker may claim
-- it again (capped exponential backoff); 0 = at once.
ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;

-- Per-process concurrency limits count each process's running jobs at every claim.
CREATE INDEX jobs_running_by_process ON jobs (process_id) WHERE status = 'running';

-- One row per running worker pool (an `ades serve` with workers, or an `ades worker`):
-- what it offers, refreshed at every heartbeat. Submissions are refused when no live pool
-- could ever run the job; `/health` lists them.
CREATE TABLE worker_hosts (
    -- The pool's instance id (`ades-<pid>-<random>`), the prefix of its workers' ids.
    id       TEXT    NOT NULL PRIMARY KEY,
    -- The host name it runs on.
    host     TEXT    NOT NULL,
    -- Jobs it runs at once.
    workers  INTEGER NOT NULL,
    -- CPUs, memory (MiB), disk (MiB) and GPUs its jobs may use at once; NULL = no limit.
    cpus     REAL,
    mem_mib  REAL,
    disk_mib REAL,
    gpus     INTEGER NOT NULL,
    -- Jobs it ran at its last heartbeat.
    running  INTEGER NOT NULL,
    -- When it started, was last seen, and when it counts as gone unless seen again (µs).
    started  INTEGER NOT NULL,
    seen     INTEGER NOT NULL,
    expires  INTEGER NOT NULL
);
