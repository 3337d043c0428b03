-- Records where a remote step's job is, if the record is still what the caller read (a
-- compare-and-swap, so two drivers never both submit the step).
-- $1 id, $2 expected value (NULL: none yet), $3 new value
UPDATE jobs
SET remote_job = $3
WHERE id = $1
  AND remote_job IS NOT DISTINCT FROM $2;
