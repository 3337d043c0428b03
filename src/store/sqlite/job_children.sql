-- The steps of a workflow job, oldest first.
-- ?1 the workflow job's id
SELECT id, process_id, status, message, progress, created, started, finished, updated, request, results, failure, attempt, owner, parent_id, step
FROM jobs
WHERE parent_id = ?1
ORDER BY created, id;
