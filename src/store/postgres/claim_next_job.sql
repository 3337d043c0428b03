-- Takes the next accepted container job (workflow jobs are the drivers') (highest priority, then oldest, then id) in one statement,
-- skipping jobs whose retry delay has not passed and jobs of processes already running
-- their limit. FOR UPDATE SKIP LOCKED: concurrent claimers each lock a different row
-- instead of queueing behind (or re-reading) the same one, so no job is claimed twice.
-- (When limits are given, the caller first takes a transaction advisory lock, so two
-- claimers cannot both count the same free slot.) `started` keeps the first claim's time
-- on later attempts (OGC: first start); message and progress restart with the attempt.
-- $1 worker id, $2 lease_expires (µs), $3 now (µs),
-- $4 limits: a JSON object {"<process id>": <most running at once>},
-- $5 status entered (running), $6 the one status claimed from (accepted): see
-- store::transitions::CLAIM
WITH limits AS (
        SELECT key AS process_id, value::bigint AS max_running
        FROM jsonb_each_text($4::jsonb)
    ),
    saturated AS (
        SELECT l.process_id
        FROM limits l
        WHERE (SELECT count(*) FROM jobs r
               WHERE r.status = 'running' AND r.process_id = l.process_id) >= l.max_running
    )
UPDATE jobs
SET status        = $5,
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
        WHERE status = $6
          AND kind = 'container'
          AND not_before <= $3
          AND process_id NOT IN (SELECT process_id FROM saturated)
        ORDER BY priority DESC, created, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
  AND status = $6
RETURNING id, process_id, status, message, progress, created, started, finished, updated, request::text AS request, results::text AS results, failure::text AS failure, attempt, owner, parent_id, step;
