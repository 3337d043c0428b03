-- Every key, oldest first.
SELECT id, user_name, roles, name, created, revoked FROM api_keys ORDER BY created, id;
