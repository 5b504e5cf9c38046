-- Blobs whose bytes a scrub found corrupt or missing: never served, never mounted, until an
-- upload of the right bytes completes. Checkpoints let a long task (the scrub) resume on any
-- node.

CREATE TABLE quarantined_blobs (
    digest TEXT COLLATE "C" PRIMARY KEY,
    reason TEXT NOT NULL,
    quarantined_at BIGINT NOT NULL
);

CREATE TABLE checkpoints (
    name TEXT COLLATE "C" PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
