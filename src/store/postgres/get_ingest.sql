-- One ingest. $1 id
SELECT id, source_kind, source_name, workspace, path, file_name, version, size, sha256,
       media_type, rule, data_types, status, message, new_workspace, new_path, job_id,
       created, updated
FROM ingests WHERE id = $1;
