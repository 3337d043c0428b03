-- Ends a job the worker holds (fenced) as successful, with its results; frees the lease.
-- ?1 id, ?2 worker id, ?3 results JSON, ?4 message, ?5 now (µs)
UPDATE jobs
SET status        = 'successful',
    results       = ?3,
    message       = ?4,
    progress      = 100,
    finished      = ?5,
    updated       = ?5,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = ?1
  AND status = 'running'
  AND lease_owner = ?2;
