-- Forgets pools that have not been seen since before ?1 (µs): long gone.
DELETE FROM worker_hosts WHERE expires < ?1;
