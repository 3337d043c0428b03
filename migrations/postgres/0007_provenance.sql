-- Job provenance (README, "Provenance"): what produced a job's outputs, recorded by the
-- worker when the job's run ends. Forward-only, like 0001_jobs.sql. Times are BIGINT
-- microseconds since the Unix epoch. Jobs that ended before this table existed have no
-- row (GET /jobs/{id}/prov says so).

CREATE TABLE job_provenance (
    -- The job it describes; one record per job (a later attempt's replaces an earlier's).
    job_id    TEXT    NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    -- The record (src/provenance: ProvRecord) as JSON text; rendered as PROV when served.
    record    TEXT    NOT NULL,
    -- When it was written.
    recorded  BIGINT  NOT NULL
);
