-- Overwrites a scan's definition. No row = no such scan. ?1 name, ?2 definition, ?3 updated
UPDATE scans SET definition = ?2, updated = ?3 WHERE name = ?1;
