-- Stores the monitor's cursor, fenced by the lease. $1 name, $2 owner, $3 cursor
UPDATE strikes SET scan_cursor = $3 WHERE name = $1 AND lease_owner = $2;
