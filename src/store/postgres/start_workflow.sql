-- A workflow driver starts an accepted workflow job: it becomes running, held by the
-- drivers' common owner with a lease that does not expire (the reaper leaves it alone: no
-- worker holds it; every driver advances it as its steps end).
-- $1 id, $2 driver owner, $3 lease_expires (µs), $4 now (µs),
-- $5 status entered (running), $6 the one status started from (accepted):
-- see store::transitions::CLAIM
UPDATE jobs
SET status        = $5,
    started       = COALESCE(started, $4),
    attempt       = attempt + 1,
    lease_owner   = $2,
    lease_expires = $3,
    message       = NULL,
    progress      = NULL,
    updated       = $4
WHERE id = $1
  AND kind = 'workflow'
  AND status = $6
RETURNING id, process_id, status, message, progress, created, started, finished, updated, request::text AS request, results::text AS results, failure::text AS failure, attempt, owner, parent_id, step;
