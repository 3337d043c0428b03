-- Dismisses a job: a waiting or running one stops (its lease is freed, so its worker's
-- fenced writes fail from now on); a finished one (successful or failed) is withdrawn, its
-- results no longer served (OGC dismiss class). `finished` keeps the time a finished job
-- ended. No row changes for a dismissed or unknown job.
-- $1 id, $2 message, $3 now (µs)
-- $4 status entered, $5 statuses changed from (text[]): see store::transitions::DISMISS
UPDATE jobs
SET status        = $4,
    message       = $2,
    finished      = COALESCE(finished, $3),
    updated       = $3,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = $1
  AND status = ANY($5);
