-- One deployed process by id.
-- $1 id
SELECT id, package_media_type, package, image, pinned_image, manifest, deployed, updated
FROM deployed_processes
WHERE id = $1;
