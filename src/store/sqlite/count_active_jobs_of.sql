-- A user's jobs waiting or running (the per-user limit).
-- ?1 owner
SELECT count(*) AS active FROM jobs WHERE owner = ?1 AND status IN ('accepted', 'running');
