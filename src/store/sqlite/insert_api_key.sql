-- Stores a new API key (its hash only).
-- ?1 id, ?2 key hash, ?3 user, ?4 roles (comma-separated), ?5 name, ?6 created (µs)
INSERT INTO api_keys (id, key_hash, user_name, roles, name, created)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);
