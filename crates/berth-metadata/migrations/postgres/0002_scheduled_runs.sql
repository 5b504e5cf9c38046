-- When each scheduled task last started, by the database's clock: several nodes share one
-- schedule, so a task runs once per interval whichever node's timer fires first.
CREATE TABLE scheduled_runs (
    name TEXT COLLATE "C" PRIMARY KEY,
    started_at BIGINT NOT NULL
);
