-- Records the end of a delivery try by the process holding the claim: delivered, due again
-- later, or given up. Nothing changes for a claim that lapsed and was taken by another.
-- $1 id, $2 owner, $3 delivered (µs) or NULL, $4 next_attempt (µs), $5 given_up (µs) or NULL
UPDATE callbacks
SET lease_owner   = NULL,
    lease_expires = NULL,
    delivered     = $3,
    next_attempt  = $4,
    given_up      = $5
WHERE id = $1
  AND lease_owner = $2;
