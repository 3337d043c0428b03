-- Appends one entry to a job's audit trail (in the transaction that changed the status).
-- ?1 job_id, ?2 at (µs), ?3 status entered, ?4 message or NULL
INSERT INTO job_events (job_id, at, status, message)
VALUES (?1, ?2, ?3, ?4);
