-- Registers a worker pool, or refreshes it at its heartbeat.
-- ?1 id, ?2 host, ?3 workers, ?4 cpus, ?5 mem_mib, ?6 gpus, ?7 running, ?8 started (µs),
-- ?9 seen (µs), ?10 expires (µs), ?11 disk_mib
INSERT INTO worker_hosts (id, host, workers, cpus, mem_mib, gpus, running, started, seen, expires, disk_mib)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
ON CONFLICT (id) DO UPDATE
SET workers = excluded.workers,
    cpus    = excluded.cpus,
    mem_mib = excluded.mem_mib,
    disk_mib = excluded.disk_mib,
    gpus    = excluded.gpus,
    running = excluded.running,
    seen    = excluded.seen,
    expires = excluded.expires;
