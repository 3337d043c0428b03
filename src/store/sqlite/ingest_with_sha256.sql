-- An ingest of the same content by this strike or scan (duplicate detection).
-- ?1 source_kind, ?2 source_name, ?3 sha256
SELECT id FROM ingests
WHERE source_kind = ?1 AND source_name = ?2 AND sha256 = ?3 AND status = 'ingested'
LIMIT 1;
