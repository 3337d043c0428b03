-- One strike. ?1 name
SELECT name, definition, running, created, updated, lease_owner, lease_expires, scan_cursor
FROM strikes WHERE name = ?1;
