-- Stores a new strike; an existing name violates the primary key (reported as a duplicate).
-- $1 name, $2 definition JSON, $3 running, $4 created = updated (µs)
INSERT INTO strikes (name, definition, running, created, updated)
VALUES ($1, $2, $3, $4, $4);
