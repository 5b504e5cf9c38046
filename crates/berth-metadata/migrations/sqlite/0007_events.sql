-- The event outbox, written in the same transaction as the change each event reports, and the
-- delivery state of each notification endpoint. AUTOINCREMENT: a pruned event's seq is never
-- given again, so that a cursor past it stays past every later event's.

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    repository TEXT,
    subject    TEXT,
    time       INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (time);

-- Every event up to `seq` is passed (delivered, skipped by the endpoint's filters, or dead).
CREATE TABLE event_cursors (
    endpoint TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;

-- Events an endpoint gave up on after its attempts.
CREATE TABLE event_dead_letters (
    endpoint   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    dead_at    INTEGER NOT NULL,
    PRIMARY KEY (endpoint, seq)
) WITHOUT ROWID;
