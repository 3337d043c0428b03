-- Overwrites a deployed process, keeping its first deployment time. No row = not deployed.
-- ?1 id, ?2 package media type, ?3 package, ?4 image, ?5 pinned image, ?6 manifest JSON,
-- ?7 updated (µs)
UPDATE deployed_processes
SET package_media_type = ?2,
    package = ?3,
    image = ?4,
    pinned_image = ?5,
    manifest = ?6,
    updated = ?7
WHERE id = ?1;
