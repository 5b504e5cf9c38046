-- Blobs whose bytes a scrub found corrupt or missing: never served, never mounted, until an
-- upload of the right bytes completes. Checkpoints let a long task (the scrub) resume.

CREATE TABLE quarantined_blobs (
    digest         TEXT PRIMARY KEY,
    reason         TEXT NOT NULL,
    quarantined_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
