-- A job's audit trail, oldest first.
-- $1 job_id
SELECT job_id, at, status, message
FROM job_events
WHERE job_id = $1
ORDER BY seq;
