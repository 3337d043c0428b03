-- Every scan, by name.
SELECT name, definition, created, updated, last_run FROM scans ORDER BY name;
