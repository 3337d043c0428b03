-- Puts a running job back in the queue after a failure worth retrying (fenced: only its
-- lease holder may), to be claimed again no sooner than `not_before`.
-- ?1 id, ?2 worker id, ?3 message, ?4 not_before (µs), ?5 now (µs)
-- ?6 status entered, ?7 statuses changed from (JSON array): see store::transitions::RETRY
UPDATE jobs
SET status        = ?6,
    message       = ?3,
    progress      = NULL,
    updated       = ?5,
    lease_owner   = NULL,
    lease_expires = NULL,
    not_before    = ?4
WHERE id = ?1
  AND status IN (SELECT value FROM json_each(?7))
  AND lease_owner = ?2;
