-- Durable callbacks (the outbox): every callback a status change makes due is a row,
-- written in the transaction of that change, and delivered by whichever process claims it,
-- with retries, until it is delivered or given up. Forward-only, like 0001_jobs.sql. Times
-- are INTEGER microseconds since the Unix epoch.

CREATE TABLE callbacks (
    -- Write order; the key of the attempts.
    id            INTEGER NOT NULL PRIMARY KEY,
    -- The job the callback tells about.
    job_id        TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The status the job entered (running: inProgressUri; successful: successUri; failed
    -- or dismissed: failedUri).
    status        TEXT    NOT NULL
                  CHECK (status IN ('running', 'successful', 'failed', 'dismissed')),
    -- The job's attempt when it entered that status (part of the idempotency key).
    attempt       INTEGER NOT NULL,
    -- Where to POST.
    uri           TEXT    NOT NULL,
    -- When it became due.
    created       INTEGER NOT NULL,
    -- Not tried again before this time.
    next_attempt  INTEGER NOT NULL,
    -- Deliveries tried so far.
    tries         INTEGER NOT NULL DEFAULT 0,
    -- The process delivering it now, and until when it may (a crashed one's claim lapses).
    lease_owner   TEXT,
    lease_expires INTEGER,
    -- When a delivery succeeded; NULL until then.
    delivered     INTEGER,
    -- When delivery was given up (too old); NULL otherwise.
    given_up      INTEGER,
    -- One callback per job, status and attempt: a change written twice queues one.
    UNIQUE (job_id, status, attempt)
) STRICT;

-- The deliverer's claim: what is still due, soonest first.
CREATE INDEX callbacks_due ON callbacks (next_attempt, id)
    WHERE delivered IS NULL AND given_up IS NULL;
-- A job's callbacks, for its owner and `ades jobs show`.
CREATE INDEX callbacks_by_job ON callbacks (job_id, id);

CREATE TABLE callback_attempts (
    -- The callback tried.
    callback_id   INTEGER NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    -- 1 for the first try.
    try           INTEGER NOT NULL,
    -- When it was tried.
    at            INTEGER NOT NULL,
    -- Whether the receiver took it (a 2xx answer).
    delivered     INTEGER NOT NULL CHECK (delivered IN (0, 1)),
    -- What happened: "answered 200 OK", "answered 503 ...", "connection refused", ...
    outcome       TEXT    NOT NULL,
    PRIMARY KEY (callback_id, try)
) STRICT;
