-- Stores a new scan; an existing name violates the primary key (a duplicate).
-- $1 name, $2 definition JSON, $3 created = updated (µs)
INSERT INTO scans (name, definition, created, updated) VALUES ($1, $2, $3, $3);
