-- Periodic schedules (`conveyor.schedules`): one row per schedule, declared in code (written
-- by each worker at start) or made over the API. Workers fire the enabled ones whose
-- `next_run_at` has come (`FOR UPDATE SKIP LOCKED`), and step `next_run_at` in the same
-- transaction.
CREATE TABLE schedules (
    name         text PRIMARY KEY,
    task         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    queue        text NOT NULL,
    tenant       text NOT NULL,
    cron         text,
    interval_sec double precision,
    timezone     text NOT NULL DEFAULT 'UTC',
    enabled      boolean NOT NULL DEFAULT true,
    overlap      boolean NOT NULL DEFAULT true,
    priority     integer NOT NULL DEFAULT 0,
    max_retries  integer,
    source       text NOT NULL CHECK (source IN ('code', 'api')),
    next_run_at  timestamptz,                   -- NULL while disabled
    last_run_at  timestamptz,                   -- the last tick fired (or skipped)
    last_job_id  uuid,                          -- no foreign key: retention may prune it
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((cron IS NULL) <> (interval_sec IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

-- A fired job names its schedule and tick; the unique index makes a second job for one tick
-- impossible, whatever a firing process believes. Adding nullable columns without a default
-- rewrites nothing.
ALTER TABLE jobs ADD COLUMN schedule text, ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX jobs_schedule_tick ON jobs (schedule, scheduled_for)
    WHERE schedule IS NOT NULL;
