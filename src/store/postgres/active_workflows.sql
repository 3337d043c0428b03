-- Workflow jobs waiting or running: what the workflow drivers advance.
-- $1 statuses (text[])
SELECT id
FROM jobs
WHERE kind = 'workflow'
  AND status = ANY($1)
ORDER BY created, id;
