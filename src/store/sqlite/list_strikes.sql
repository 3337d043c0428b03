-- Every strike, by name.
SELECT name, definition, running, created, updated, lease_owner, lease_expires, scan_cursor
FROM strikes ORDER BY name;
