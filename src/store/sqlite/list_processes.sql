-- Every deployed process, sorted by id (byte order, so both backends agree).
SELECT id, package_media_type, package, image, pinned_image, manifest, deployed, updated
FROM deployed_processes
ORDER BY id;
