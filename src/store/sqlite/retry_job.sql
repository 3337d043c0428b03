-- Puts a running job back in the queue after a failure worth retrying (fenced: only its
-- lease holder may), to be claimed again no sooner than `not_before`.
-- ?1 id, ?2 worker id, ?3 message, ?4 not_before (µs), ?5 now (µs)
UPDATE jobs
SET status        = 'accepted',
    message       = ?3,
    progress      = NULL,
    updated       = ?5,
    lease_owner   = NULL,
    lease_expires = NULL,
    not_before    = ?4
WHERE id = ?1
  AND status = 'running'
  AND lease_owner = ?2;
