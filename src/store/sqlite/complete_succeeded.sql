-- Ends a job the worker holds (fenced) as successful, with its results; frees the lease.
-- ?1 id, ?2 worker id, ?3 results JSON, ?4 message, ?5 now (µs)
-- ?6 status entered, ?7 statuses changed from (JSON array):
-- see store::transitions::COMPLETE_SUCCEEDED
UPDATE jobs
SET status        = ?6,
    results       = ?3,
    message       = ?4,
    progress      = 100,
    finished      = ?5,
    updated       = ?5,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = ?1
  AND status IN (SELECT value FROM json_each(?7))
  AND lease_owner = ?2;
