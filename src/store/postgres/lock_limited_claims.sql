-- Serialises claims that count per-process limits, until the claiming transaction ends
-- (any fixed key would do; this one spells "ades" in ASCII).
SELECT pg_advisory_xact_lock(1633969523);
