-- Job lists filtered by status (PostgreSQL). Forward-only, like 0001_jobs.sql.
--
-- Without these, a status filter walks jobs_newest_first and skips every job of another
-- status; when the matches are rare and old (failed jobs, none in recent months) one page
-- reads most of the table: 0.4 s with a million jobs (benches/list_jobs.rs). One partial
-- index per status, each in list order, lets the scan start at that status's newest job
-- and stop after a page. The planner picks them for a `status = ANY($3)` filter naming one
-- status, as the list statement's parameters are planned as values (custom plans). A row
-- is in exactly one of them, so together they cost about as much to keep as one index.

-- Accepted jobs, newest first.
CREATE INDEX jobs_accepted_newest_first ON jobs (created DESC, id DESC) WHERE status = 'accepted';
-- Running jobs, newest first.
CREATE INDEX jobs_running_newest_first ON jobs (created DESC, id DESC) WHERE status = 'running';
-- Successful jobs, newest first.
CREATE INDEX jobs_successful_newest_first ON jobs (created DESC, id DESC) WHERE status = 'successful';
-- Failed jobs, newest first.
CREATE INDEX jobs_failed_newest_first ON jobs (created DESC, id DESC) WHERE status = 'failed';
-- Dismissed jobs, newest first.
CREATE INDEX jobs_dismissed_newest_first ON jobs (created DESC, id DESC) WHERE status = 'dismissed';
