-- The event outbox, written in the same transaction as the change each event reports, and the
-- delivery state of each notification endpoint.
--
-- Delivery order is commit order, and a seq (taken when the row is inserted) does not give it:
-- a transaction holding seq 10 may commit after one holding seq 11. So each event also records
-- its transaction's id (`tx`), and readers take only events whose transaction is older than
-- the oldest one still running (`pg_snapshot_xmin`), in (tx, seq) order: every transaction
-- that may still commit comes after every event already read. Cursors hold that pair.

CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx         BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id         TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    repository TEXT COLLATE "C",
    subject    TEXT,
    time       BIGINT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX events_in_commit_order ON events (tx, seq);
CREATE INDEX events_by_time ON events (time);

-- Every event up to (tx, seq) is passed (delivered, skipped by the endpoint's filters, or dead).
CREATE TABLE event_cursors (
    endpoint TEXT COLLATE "C" PRIMARY KEY,
    tx       BIGINT NOT NULL,
    seq      BIGINT NOT NULL
);

-- Events an endpoint gave up on after its attempts.
CREATE TABLE event_dead_letters (
    endpoint   TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    dead_at    BIGINT NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
