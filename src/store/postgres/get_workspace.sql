-- One workspace by name.
-- $1 name
SELECT name, definition, created, updated
FROM workspaces
WHERE name = $1;
