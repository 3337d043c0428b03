-- Appends one delivery try to a callback's record (in the transaction that ends the try).
-- ?1 callback_id, ?2 try, ?3 at (µs), ?4 delivered, ?5 outcome
INSERT INTO callback_attempts (callback_id, try, at, delivered, outcome)
VALUES (?1, ?2, ?3, ?4, ?5);
