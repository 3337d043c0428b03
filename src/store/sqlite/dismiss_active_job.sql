-- Dismisses a job only while it is waiting or running (accepted, which includes a retry
-- waiting for its delay, or running): its lease is freed, so its worker's fenced writes
-- fail from now on. A job that has finished in the meantime (successful or failed) is not
-- withdrawn, and a dismissed or unknown one is left alone: no row changes.
-- ?1 id, ?2 message, ?3 now (µs)
-- ?4 status entered, ?5 statuses changed from (JSON array):
-- see store::transitions::DISMISS_ACTIVE
UPDATE jobs
SET status        = ?4,
    message       = ?2,
    finished      = ?3,
    updated       = ?3,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = ?1
  AND status IN (SELECT value FROM json_each(?5));
