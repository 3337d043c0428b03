-- One scan. ?1 name
SELECT name, definition, created, updated, last_run FROM scans WHERE name = ?1;
