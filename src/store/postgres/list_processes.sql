-- Every deployed process, sorted by id in byte order (COLLATE "C": the database's own
-- collation may ignore hyphens, and the order must match SQLite's and Rust's).
SELECT id, package_media_type, package, image, pinned_image, manifest, deployed, updated
FROM deployed_processes
ORDER BY id COLLATE "C";
