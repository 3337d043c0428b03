-- Puts running jobs whose lease expired (or that have none) back in the queue while they
-- have attempts left.
-- ?1 now (µs), ?2 max attempts, ?3 message
UPDATE jobs
SET status        = 'accepted',
    message       = ?3,
    progress      = NULL,
    updated       = ?1,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE status = 'running'
  AND (lease_expires IS NULL OR lease_expires < ?1)
  AND attempt < ?2
RETURNING id;
