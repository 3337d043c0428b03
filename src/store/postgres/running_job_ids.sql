-- Ids of the jobs a worker currently holds (for the start-up sweep of containers).
SELECT id
FROM jobs
WHERE status = 'running'
ORDER BY created, id;
