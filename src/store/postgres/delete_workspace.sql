-- Deletes a workspace's definition (its files stay where they are). No row = no such workspace.
-- $1 name
DELETE FROM workspaces
WHERE name = $1;
