-- Records an ingest unless this version of this file was recorded by this strike or scan
-- before (the unique key): then nothing is written and no row returned.
-- ?1 id, ?2 source_kind, ?3 source_name, ?4 workspace, ?5 path, ?6 file_name, ?7 version,
-- ?8 size, ?9 sha256, ?10 media_type, ?11 rule, ?12 data_types JSON, ?13 status,
-- ?14 message, ?15 new_workspace, ?16 new_path, ?17 job_id, ?18 created = updated (µs)
INSERT INTO ingests (id, source_kind, source_name, workspace, path, file_name, version, size,
                     sha256, media_type, rule, data_types, status, message, new_workspace,
                     new_path, job_id, created, updated)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18)
ON CONFLICT (source_kind, source_name, workspace, path, version) DO NOTHING
RETURNING id;
