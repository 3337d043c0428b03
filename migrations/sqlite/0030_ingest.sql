-- Data-driven processing (src/ingest): strikes, scans and the ingests they record.
-- Forward-only, like 0001_jobs.sql. Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE strikes (
    -- The strike's name (/strikes/<name>).
    name          TEXT    NOT NULL PRIMARY KEY,
    -- The definition (Scale's v6 strike JSON with our additions), as JSON text.
    definition    TEXT    NOT NULL,
    -- Whether it should watch (start/stop).
    running       INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    -- The replica watching for it, and until when: one replica at a time; another takes it
    -- over once the lease lapses.
    lease_owner   TEXT,
    lease_expires INTEGER,
    -- The monitor's stored cursor (S3: the newest modification time already decided, µs).
    scan_cursor   INTEGER
) STRICT;

CREATE TABLE scans (
    name          TEXT    NOT NULL PRIMARY KEY,
    -- The definition (Scale's v6 scan JSON with our additions), as JSON text.
    definition    TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    -- What its last run did (JSON: counts, when), NULL before the first.
    last_run      TEXT
) STRICT;

CREATE TABLE ingests (
    -- A lower-case hyphenated UUID.
    id            TEXT    NOT NULL PRIMARY KEY,
    -- Who found the file: 'strike' or 'scan', and its name.
    source_kind   TEXT    NOT NULL CHECK (source_kind IN ('strike', 'scan')),
    source_name   TEXT    NOT NULL,
    -- Where the file was found.
    workspace     TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    file_name     TEXT    NOT NULL,
    -- Which version of the file: its size and modification time (or ETag). Together with the
    -- source and the path it is the unique key that makes each file ingested once, whichever
    -- replica finds it and however often.
    version       TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT,
    media_type    TEXT,
    -- The rule that matched (its filename_regex), NULL when none did.
    rule          TEXT,
    -- The data types of the rule, as a JSON array.
    data_types    TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('transferring', 'transferred', 'ingested', 'deferred',
                                    'duplicate', 'errored')),
    message       TEXT,
    -- Where the file lives after a rule's copy or move (NULL = where it was found).
    new_workspace TEXT,
    new_path      TEXT,
    -- The job it triggered, inserted in the same transaction as this row.
    job_id        TEXT,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    UNIQUE (source_kind, source_name, workspace, path, version)
) STRICT;

-- Ingest lists: newest first, filtered by source.
CREATE INDEX ingests_newest_first ON ingests (created DESC, id DESC);
CREATE INDEX ingests_by_source ON ingests (source_kind, source_name, created DESC);
-- Duplicate detection by content.
CREATE INDEX ingests_by_sha256 ON ingests (source_kind, source_name, sha256);
