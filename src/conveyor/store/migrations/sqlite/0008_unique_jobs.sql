-- Unique jobs: while a job with a (tenant, unique key) is pending (or, with unique_while =
-- 'active', pending or running), a submit with the same key returns it instead of creating
-- another. `unique_key` and `unique_while` are what the submit asked for, kept for good;
-- `unique_guard` is the key while the job holds it, and the partial unique index on it is what
-- makes the rule race-safe across every process that writes.
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
ALTER TABLE jobs ADD COLUMN unique_while TEXT CHECK (unique_while IN ('pending', 'active'));
ALTER TABLE jobs ADD COLUMN unique_guard TEXT;
CREATE UNIQUE INDEX jobs_unique ON jobs (tenant, unique_guard) WHERE unique_guard IS NOT NULL;
-- A job gives its key up for good the moment it leaves the guarded states, whichever statement
-- moves it (lease, start, finish, rescue, release, cancel, and any added later). Only an
-- INSERT ever sets the guard, so a job that comes back to `pending` (a retry, a rescue, a
-- release) never takes the key back and can never collide with a newer job that holds it.
-- The WHEN clause keeps this off every job without a guard: nothing runs for them.
CREATE TRIGGER jobs_unique_release AFTER UPDATE OF status ON jobs
    WHEN NEW.unique_guard IS NOT NULL
     AND NOT (NEW.status = 'pending' OR (NEW.status = 'running' AND NEW.unique_while = 'active'))
BEGIN
    UPDATE jobs SET unique_guard = NULL WHERE id = NEW.id;
END;
