-- Keeps what a scan's run did. $1 name, $2 last_run JSON, $3 updated (µs)
UPDATE scans SET last_run = $2, updated = $3 WHERE name = $1;
