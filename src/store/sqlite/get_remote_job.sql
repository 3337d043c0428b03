-- Where a remote step's job is (NULL: not submitted).
-- ?1 id
SELECT remote_job FROM jobs WHERE id = ?1;
