-- Keeps the provenance record of a job the worker holds (fenced: nothing is written once
-- the job was dismissed or its lease lost); a later attempt's record replaces an earlier's.
-- ?1 id, ?2 worker id, ?3 record (JSON), ?4 now (µs)
INSERT INTO job_provenance (job_id, record, recorded)
SELECT id, ?3, ?4
FROM jobs
WHERE id = ?1
  AND status = 'running'
  AND lease_owner = ?2
ON CONFLICT (job_id) DO UPDATE SET record = excluded.record, recorded = excluded.recorded;
