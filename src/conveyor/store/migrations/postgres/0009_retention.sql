-- Retention: deleting finished jobs (and their events) past RETENTION_*_DAYS, in small batches.
-- One row per maintenance task; the worker that holds its lease (`holder` until `held_until`)
-- is the one that runs it, so two workers never prune at once.
CREATE TABLE maintenance (
    name        text PRIMARY KEY,
    holder      text,
    held_until  timestamptz,
    last_run_at timestamptz                         -- the holder's last batch
);
INSERT INTO maintenance (name) VALUES ('retention');
-- Deleting a job looks up the jobs that link to it (the foreign keys of retry_of and
-- retried_by): without these, every deleted row would scan the whole table. Few jobs have
-- either link, so the partial indexes stay small and cost nothing on the hot paths.
CREATE INDEX jobs_retry_of ON jobs (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX jobs_retried_by ON jobs (retried_by) WHERE retried_by IS NOT NULL;
-- Each status's oldest finished jobs, for its own retention age: with `jobs_finished` alone, a
-- status kept longer (or with few jobs) would make every batch step over all the others.
-- Written once per job, when it finishes.
CREATE INDEX jobs_status_finished ON jobs (status, finished_at) WHERE finished_at IS NOT NULL;
