-- Extends the lease of a job the worker still holds (fenced). An expired lease that the
-- reaper has not taken back yet may still be renewed. Not a status change: `updated` stays.
-- ?1 id, ?2 worker id, ?3 new lease_expires (µs)
UPDATE jobs
SET lease_expires = ?3
WHERE id = ?1
  AND status = 'running'
  AND lease_owner = ?2;
