-- Queues the callback that a job's entering a status makes due (the outbox), in the
-- transaction of that change: running -> inProgressUri, successful -> successUri, failed
-- or dismissed -> failedUri, each only when the job's subscriber names one. A finished job
-- that is withdrawn (dismissed after successful or failed) has had its callback already.
-- Queued once per job, status and attempt.
-- ?1 job_id, ?2 status entered, ?3 now (µs)
INSERT OR IGNORE INTO callbacks (job_id, status, attempt, uri, created, next_attempt)
SELECT id, ?2, attempt, uri, ?3, ?3
FROM (
    SELECT id, attempt,
           CASE ?2
               WHEN 'running' THEN json_extract(request, '$.subscriber.inProgressUri')
               WHEN 'successful' THEN json_extract(request, '$.subscriber.successUri')
               WHEN 'failed' THEN json_extract(request, '$.subscriber.failedUri')
               WHEN 'dismissed' THEN json_extract(request, '$.subscriber.failedUri')
           END AS uri
    FROM jobs
    WHERE id = ?1
)
WHERE uri IS NOT NULL
  AND NOT (?2 = 'dismissed' AND EXISTS (
        SELECT 1 FROM job_events
        WHERE job_id = ?1 AND status IN ('successful', 'failed')));
