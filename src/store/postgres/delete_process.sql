-- Undeploys a process. No row = not deployed. Past jobs keep their own records.
-- $1 id
DELETE FROM deployed_processes
WHERE id = $1;
