-- Unique jobs: while a job with a (tenant, unique key) is pending (or, with unique_while =
-- 'active', pending or running), a submit with the same key returns it instead of creating
-- another. `unique_key` and `unique_while` are what the submit asked for, kept for good;
-- `unique_guard` is the key while the job holds it, and the partial unique index on it is what
-- makes the rule race-safe across every API and producer process (submits insert with
-- ON CONFLICT DO NOTHING and read the holder back). Adding NULL columns rewrites nothing.
ALTER TABLE jobs
    ADD COLUMN unique_key text,
    ADD COLUMN unique_while text
        CONSTRAINT jobs_unique_while_check CHECK (unique_while IN ('pending', 'active')),
    ADD COLUMN unique_guard text;
CREATE UNIQUE INDEX jobs_unique ON jobs (tenant, unique_guard) WHERE unique_guard IS NOT NULL;
-- A job gives its key up for good the moment it leaves the guarded states, whichever statement
-- moves it (lease, start, finish, rescue, release, cancel, and any added later). Only an
-- INSERT ever sets the guard, so a job that comes back to `pending` (a retry, a rescue, a
-- release) never takes the key back and can never collide with a newer job that holds it.
-- The WHEN clause is checked before the function is called: jobs without a guard pay nothing
-- more than that test.
CREATE FUNCTION jobs_unique_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.unique_guard := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_unique_release BEFORE UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.unique_guard IS NOT NULL
          AND NOT (NEW.status = 'pending'
                   OR (NEW.status = 'running' AND NEW.unique_while = 'active')))
    EXECUTE FUNCTION jobs_unique_release();
