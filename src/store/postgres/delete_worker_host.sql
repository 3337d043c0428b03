-- A pool stopping in order, or one gone for long: forget it.
-- $1 id
DELETE FROM worker_hosts WHERE id = $1;
