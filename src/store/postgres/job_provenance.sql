-- The provenance record of a job, if one was kept.
-- $1 job_id
SELECT record FROM job_provenance WHERE job_id = $1;
