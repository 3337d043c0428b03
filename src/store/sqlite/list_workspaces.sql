-- Every stored workspace, sorted by name in byte order (both backends agree).
SELECT name, definition, created, updated
FROM workspaces
ORDER BY name;
