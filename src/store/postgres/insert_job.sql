-- Creates a job in its first status (JobStatus::INITIAL), never claimed yet. A step of a
-- workflow job that already has that step is not inserted again (no row returned).
-- $1 id, $2 process_id, $3 now (created = updated, µs), $4 request JSON, $5 priority,
-- $6 owner (NULL: submitted with authentication off), $7 status,
-- $8 kind ('container' or 'workflow'), $9 parent workflow job id, $10 step name
INSERT INTO jobs (id, process_id, status, created, updated, request, attempt, priority, owner, kind, parent_id, step)
VALUES ($1, $2, $7, $3, $3, $4::jsonb, 0, $5, $6, $8, $9, $10)
ON CONFLICT (parent_id, step) DO NOTHING
RETURNING id, process_id, status, message, progress, created, started, finished, updated, request::text AS request, results::text AS results, failure::text AS failure, attempt, owner, parent_id, step;
