-- A job's callbacks with their tries, oldest first (a callback never tried has one row with
-- NULL try columns).
-- $1 job_id
SELECT c.id, c.status, c.attempt, c.uri, c.created, c.next_attempt, c.delivered, c.given_up,
       a.try, a.at, a.delivered AS try_delivered, a.outcome
FROM callbacks c
LEFT JOIN callback_attempts a ON a.callback_id = c.id
WHERE c.job_id = $1
ORDER BY c.id, a.try;
