-- Overwrites a strike's definition, keeping its creation time, state and lease. No row =
-- no such strike.
-- $1 name, $2 definition JSON, $3 updated (µs)
UPDATE strikes SET definition = $2, updated = $3 WHERE name = $1;
