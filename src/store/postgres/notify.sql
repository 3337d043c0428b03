-- Announces a job change to listening replicas; delivered at commit.
-- $1 channel, $2 payload (`w <job id>`: claimable; `c <job id>`: changed)
SELECT pg_notify($1, $2);
