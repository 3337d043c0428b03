-- Takes or renews the lease of a running strike: granted when nobody holds it, the caller
-- holds it already, or the holder's lease lapsed (its replica died). One conditional
-- update, so two replicas never both hold it.
-- ?1 name, ?2 owner, ?3 lease_expires (µs), ?4 now (µs)
UPDATE strikes
SET lease_owner = ?2, lease_expires = ?3
WHERE name = ?1
  AND running
  AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_expires < ?4);
