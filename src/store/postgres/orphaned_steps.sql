-- Steps still waiting or running whose workflow job has ended (failed, dismissed, or
-- ended while a step was being submitted): the drivers dismiss them.
-- $1 active statuses (text[])
SELECT c.id, c.process_id, c.status, c.message, c.progress, c.created, c.started, c.finished, c.updated, c.request::text AS request, c.results::text AS results, c.failure::text AS failure, c.attempt, c.owner, c.parent_id, c.step
FROM jobs c
JOIN jobs p ON p.id = c.parent_id
WHERE c.status = ANY($1)
  AND NOT (p.status = ANY($1))
ORDER BY c.created, c.id;
