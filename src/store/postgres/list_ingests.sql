-- One page of ingests, newest first; a NULL parameter disables its filter.
-- $1 statuses (text[]), $2 source_kind, $3 source_name, $4 created from (µs),
-- $5 created to (µs), $6 rows to return, $7 rows to skip
SELECT id, source_kind, source_name, workspace, path, file_name, version, size, sha256,
       media_type, rule, data_types, status, message, new_workspace, new_path, job_id,
       created, updated
FROM ingests
WHERE ($1::text[] IS NULL OR status = ANY($1))
  AND ($2::text IS NULL OR source_kind = $2)
  AND ($3::text IS NULL OR source_name = $3)
  AND ($4::bigint IS NULL OR created >= $4)
  AND ($5::bigint IS NULL OR created <= $5)
ORDER BY created DESC, id DESC
LIMIT $6 OFFSET $7;
