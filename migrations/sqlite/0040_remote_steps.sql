-- Remote workflow steps: a step that runs on another OGC API - Processes server keeps the
-- URL of its job there, so a driver that restarts (or another replica) follows that job
-- rather than submitting the process again, and a dismissal reaches it.
-- Forward-only, like 0001_jobs.sql.

-- NULL: not submitted yet (or no remote step); 'submitting:<µs>': a driver is submitting
-- it since then; else the remote job's URL.
ALTER TABLE jobs ADD COLUMN remote_job TEXT;
