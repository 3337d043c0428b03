-- Stores a new workspace. An existing name violates the primary key: the caller reports
-- it as a duplicate (the key decides, so two replicas cannot both create one name).
-- $1 name, $2 definition JSON, $3 created (µs), $4 updated (µs)
INSERT INTO workspaces (name, definition, created, updated)
VALUES ($1, $2, $3, $4);
