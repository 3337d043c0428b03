-- Revokes a key that still works (a revoked one keeps its first revocation time).
-- ?1 id, ?2 now (µs)
UPDATE api_keys SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL;
