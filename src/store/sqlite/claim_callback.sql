-- Takes the callback due soonest for delivery by one process, under a lease: a claim whose
-- process died lapses and the callback is claimed again (at least once, never lost).
-- ?1 owner, ?2 lease_expires (µs), ?3 now (µs)
UPDATE callbacks
SET lease_owner   = ?1,
    lease_expires = ?2,
    tries         = tries + 1
WHERE id = (
        SELECT id
        FROM callbacks
        WHERE delivered IS NULL
          AND given_up IS NULL
          AND next_attempt <= ?3
          AND (lease_expires IS NULL OR lease_expires < ?3)
        ORDER BY next_attempt, id
        LIMIT 1
    )
RETURNING id, job_id, status, attempt, uri, created, tries;
