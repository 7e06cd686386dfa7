-- Periodic schedules (`conveyor.schedules`): one row per schedule, declared in code (written
-- by each worker at start) or made over the API. Workers fire the enabled ones whose
-- `next_run_at` has come, and step `next_run_at` in the same transaction.
CREATE TABLE schedules (
    name         TEXT PRIMARY KEY,
    task         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    queue        TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    cron         TEXT,
    interval_sec REAL,
    timezone     TEXT NOT NULL DEFAULT 'UTC',
    enabled      INTEGER NOT NULL DEFAULT 1,
    overlap      INTEGER NOT NULL DEFAULT 1,
    priority     INTEGER NOT NULL DEFAULT 0,
    max_retries  INTEGER,
    source       TEXT NOT NULL CHECK (source IN ('code', 'api')),
    next_run_at  REAL,                          -- NULL while disabled
    last_run_at  REAL,                          -- the last tick fired (or skipped)
    last_job_id  TEXT,                          -- no foreign key: retention may prune it
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    CHECK ((cron IS NULL) <> (interval_sec IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

-- A fired job names its schedule and tick; the unique index makes a second job for one tick
-- impossible, whatever a firing process believes.
ALTER TABLE jobs ADD COLUMN schedule TEXT;
ALTER TABLE jobs ADD COLUMN scheduled_for REAL;
CREATE UNIQUE INDEX jobs_schedule_tick ON jobs (schedule, scheduled_for)
    WHERE schedule IS NOT NULL;
