-- Takes the next accepted job (highest priority, then oldest, then id) in one statement.
-- FOR UPDATE SKIP LOCKED: concurrent claimers each lock a different row instead of
-- queueing behind (or re-reading) the same one, so no job is claimed twice. `started`
-- keeps the first claim's time on later attempts (OGC: first start); message and progress
-- restart with the attempt.
-- $1 worker id, $2 lease_expires (µs), $3 now (µs)
UPDATE jobs
SET status        = 'running',
    started       = COALESCE(started, $3),
    attempt       = attempt + 1,
    lease_owner   = $1,
    lease_expires = $2,
    message       = NULL,
    progress      = NULL,
    updated       = $3
WHERE id = (
        SELECT id
        FROM jobs
        WHERE status = 'accepted'
        ORDER BY priority DESC, created, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
  AND status = 'accepted'
RETURNING id, process_id, status, message, progress, created, started, finished, updated, request::text AS request, results::text AS results, failure::text AS failure, attempt;
