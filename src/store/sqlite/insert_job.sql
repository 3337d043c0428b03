-- Creates a job in its first status (JobStatus::INITIAL), never claimed yet.
-- ?1 id, ?2 process_id, ?3 now (created = updated, µs), ?4 request JSON, ?5 priority,
-- ?6 owner (NULL: submitted with authentication off), ?7 status
INSERT INTO jobs (id, process_id, status, created, updated, request, attempt, priority, owner)
VALUES (?1, ?2, ?7, ?3, ?3, ?4, 0, ?5, ?6)
RETURNING id, process_id, status, message, progress, created, started, finished, updated, request, results, failure, attempt, owner;
