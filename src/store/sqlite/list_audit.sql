-- The newest entries of the audit trail, newest first.
-- ?1 rows to return
SELECT at, actor, action, target, detail FROM audit ORDER BY at DESC, seq DESC LIMIT ?1;
