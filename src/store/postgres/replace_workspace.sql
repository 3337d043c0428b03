-- Overwrites a workspace's definition, keeping its creation time. No row = no such workspace.
-- $1 name, $2 definition JSON, $3 updated (µs)
UPDATE workspaces
SET definition = $2,
    updated = $3
WHERE name = $1;
