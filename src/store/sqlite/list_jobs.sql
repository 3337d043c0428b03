-- One page of jobs, newest first. Every filter is optional: a NULL parameter disables it.
-- Duration (µs) is now - started for running jobs and finished - started for final ones;
-- it is NULL for jobs never started and for accepted ones (requeued after a lost worker),
-- so any duration bound leaves those out (OGC: only running, successful, failed and
-- dismissed jobs have a duration).
-- ?1 now (µs), ?2 process ids (JSON array), ?3 statuses (JSON array),
-- ?4 created from (µs, inclusive), ?5 created to (µs, inclusive),
-- ?6 min duration (s), ?7 max duration (s), ?8 rows to return, ?9 rows to skip,
-- ?10 owner (only that user's jobs)
WITH listed AS (
    SELECT id, process_id, status, message, progress, created, started, finished, updated, request, results, failure, attempt, owner, parent_id, step,
           CASE
               WHEN status = 'running' THEN ?1 - started
               WHEN status IN ('successful', 'failed', 'dismissed') THEN finished - started
           END AS duration
    FROM jobs
)
SELECT id, process_id, status, message, progress, created, started, finished, updated, request, results, failure, attempt, owner, parent_id, step
FROM listed
WHERE (?2 IS NULL OR process_id IN (SELECT value FROM json_each(?2)))
  AND (?3 IS NULL OR status IN (SELECT value FROM json_each(?3)))
  AND (?4 IS NULL OR created >= ?4)
  AND (?5 IS NULL OR created <= ?5)
  AND (?6 IS NULL OR duration >= ?6 * 1000000.0)
  AND (?7 IS NULL OR duration <= ?7 * 1000000.0)
  AND (?10 IS NULL OR owner = ?10)
ORDER BY created DESC, id DESC
LIMIT ?8 OFFSET ?9;
