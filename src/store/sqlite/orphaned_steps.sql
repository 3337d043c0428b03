-- Steps still waiting or running whose workflow job has ended (failed, dismissed, or
-- ended while a step was being submitted): the drivers dismiss them.
-- ?1 active statuses (JSON array)
SELECT c.id, c.process_id, c.status, c.message, c.progress, c.created, c.started, c.finished, c.updated, c.request, c.results, c.failure, c.attempt, c.owner, c.parent_id, c.step
FROM jobs c
JOIN jobs p ON p.id = c.parent_id
WHERE c.status IN (SELECT value FROM json_each(?1))
  AND p.status NOT IN (SELECT value FROM json_each(?1))
ORDER BY c.created, c.id;
