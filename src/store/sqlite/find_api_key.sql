-- The key with this hash, revoked or not.
-- ?1 key hash
SELECT id, user_name, roles, name, created, revoked FROM api_keys WHERE key_hash = ?1;
