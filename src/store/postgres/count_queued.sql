-- Jobs waiting to run (the bounded queue's size).
SELECT count(*) AS queued FROM jobs WHERE status = 'accepted';
