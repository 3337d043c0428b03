-- Every registered worker pool, by host then id.
SELECT id, host, workers, cpus, mem_mib, disk_mib, gpus, running, started, seen, expires
FROM worker_hosts
ORDER BY host, id;
