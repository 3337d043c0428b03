-- One job by id.
-- ?1 id
SELECT id, process_id, status, message, progress, created, started, finished, updated, request, results, failure, attempt, owner, parent_id, step
FROM jobs
WHERE id = ?1;
