-- Sets the status message and progress of a job the worker holds (fenced). A NULL
-- progress keeps the last known one.
-- $1 id, $2 worker id, $3 message, $4 progress (0-100) or NULL, $5 now (µs)
UPDATE jobs
SET message  = $3,
    progress = COALESCE($4, progress),
    updated  = $5
WHERE id = $1
  AND status = 'running'
  AND lease_owner = $2;
