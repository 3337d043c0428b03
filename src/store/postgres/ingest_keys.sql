-- The files a strike or scan has decided, as (path, version): what its monitor skips.
-- $1 source_kind, $2 source_name
SELECT path, version FROM ingests WHERE source_kind = $1 AND source_name = $2;
