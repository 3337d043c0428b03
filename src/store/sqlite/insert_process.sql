-- Stores a newly deployed process. An existing id violates the primary key: the caller
-- reports that as a duplicate (the key decides, so concurrent deploys cannot both win).
-- ?1 id, ?2 package media type, ?3 package, ?4 image, ?5 pinned image, ?6 manifest JSON,
-- ?7 deployed (µs), ?8 updated (µs)
INSERT INTO deployed_processes (id, package_media_type, package, image, pinned_image, manifest, deployed, updated)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);
