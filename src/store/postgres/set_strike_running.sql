-- Starts or stops a strike. A stopped strike's lease is let go, so its watcher stops at its
-- next renewal. No row = no such strike.
-- $1 name, $2 running, $3 updated (µs)
UPDATE strikes
SET running = $2,
    updated = $3,
    lease_owner = CASE WHEN $2 THEN lease_owner END,
    lease_expires = CASE WHEN $2 THEN lease_expires END
WHERE name = $1;
