-- Ends a job the worker holds (fenced) as failed, with its failure; frees the lease.
-- $1 id, $2 worker id, $3 failure JSON, $4 message, $5 now (µs)
-- $6 status entered, $7 statuses changed from (text[]):
-- see store::transitions::COMPLETE_FAILED
UPDATE jobs
SET status        = $6,
    failure       = $3::jsonb,
    message       = $4,
    finished      = $5,
    updated       = $5,
    lease_owner   = NULL,
    lease_expires = NULL
WHERE id = $1
  AND status = ANY($7)
  AND lease_owner = $2;
