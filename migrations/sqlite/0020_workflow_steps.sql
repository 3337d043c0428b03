-- Workflows: a workflow job is a job whose steps are jobs of their own (its children).
-- Forward-only, like 0001_jobs.sql.

-- Who runs the job: 'container' jobs are claimed by workers; 'workflow' jobs are never
-- claimed (they hold no worker slot) but advanced by every server's workflow driver as
-- their steps end.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'container'
    CHECK (kind IN ('container', 'workflow'));
-- The workflow job this job is a step of; NULL for a job submitted by a client.
ALTER TABLE jobs ADD COLUMN parent_id TEXT;
-- The step's name in its workflow; NULL for a job that is no step.
ALTER TABLE jobs ADD COLUMN step TEXT;

-- A step is submitted once per workflow job, whichever driver (or replica, or a restart)
-- gets there first: the second insert does nothing. NULLs are distinct, so jobs that are
-- no step are not constrained.
CREATE UNIQUE INDEX jobs_step_once ON jobs (parent_id, step);
-- The drivers' scan: workflow jobs by status.
CREATE INDEX jobs_workflows ON jobs (status) WHERE kind = 'workflow';
