-- Queue operations: a row per queue an operator has paused (or resumed). Workers skip the
-- pending jobs of a paused queue; a queue without a row is running.
CREATE TABLE queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    paused_at  REAL,
    updated_at REAL NOT NULL
);
