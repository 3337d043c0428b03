-- Appends to the audit trail.
-- ?1 at (µs), ?2 actor, ?3 action, ?4 target, ?5 detail
INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5);
