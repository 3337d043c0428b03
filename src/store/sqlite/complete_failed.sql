-- Ends a job the worker holds (fenced) as failed, with its failure; frees the lease.
-- ?1 id, ?2 worker id, ?3 failure JSON, ?4 message, ?5 now (µs)
UPDATE jobs
SET status        = 'failed',
    failure       = ?3,
    message       = ?4,
    finished      = ?5,
    updated       = ?5,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = ?1
  AND status = 'running'
  AND lease_owner = ?2;
