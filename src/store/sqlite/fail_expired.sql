-- Fails running jobs whose lease expired (or that have none) and that used all their
-- attempts.
-- ?1 now (µs), ?2 max attempts, ?3 failure JSON, ?4 message
-- ?5 status entered, ?6 the one status changed from: see store::transitions::REAP_FAIL
UPDATE jobs
SET status        = ?5,
    failure       = ?3,
    message       = ?4,
    finished      = ?1,
    updated       = ?1,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE status = ?6
  AND (lease_expires IS NULL OR lease_expires < ?1)
  AND attempt >= ?2
RETURNING id;
