-- An operator's requeue: a failed or dismissed job starts over as if just submitted
-- (attempts, times, results and failure cleared). Other statuses are left alone.
-- ?1 id, ?2 message, ?3 now (µs)
-- ?4 status entered, ?5 statuses changed from (JSON array): see store::transitions::REQUEUE
UPDATE jobs
SET status        = ?4,
    message       = ?2,
    progress      = NULL,
    started       = NULL,
    finished      = NULL,
    updated       = ?3,
    results       = NULL,
    failure       = NULL,
    attempt       = 0,
    lease_owner   = NULL,
    lease_expires = NULL,
    not_before    = 0
WHERE id = ?1
  AND status IN (SELECT value FROM json_each(?5));
