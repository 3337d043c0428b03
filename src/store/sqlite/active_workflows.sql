-- Workflow jobs waiting or running: what the workflow drivers advance.
-- ?1 statuses (JSON array)
SELECT id
FROM jobs
WHERE kind = 'workflow'
  AND status IN (SELECT value FROM json_each(?1))
ORDER BY created, id;
