-- Puts running jobs whose lease expired (or that have none) back in the queue while they
-- have attempts left.
-- $1 now (µs), $2 max attempts, $3 message
-- $4 status entered, $5 the one status changed from: see store::transitions::REAP_REQUEUE
UPDATE jobs
SET status        = $4,
    message       = $3,
    progress      = NULL,
    updated       = $1,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE status = $5
  AND (lease_expires IS NULL OR lease_expires < $1)
  AND attempt < $2
RETURNING id;
