-- Lets go of a strike's lease (a replica stopping in order). ?1 name, ?2 owner
UPDATE strikes SET lease_owner = NULL, lease_expires = NULL
WHERE name = ?1 AND lease_owner = ?2;
