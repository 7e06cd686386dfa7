-- Job control: the `cancelled` status, per-job timeouts, cancellation requests and progress.
-- The new CHECK is added NOT VALID and validated after, so the validating scan does not hold
-- the table's exclusive lock. Stop every process of the previous version first.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')) NOT VALID;
ALTER TABLE jobs VALIDATE CONSTRAINT jobs_status_check;
ALTER TABLE jobs
    ADD COLUMN timeout_sec double precision,          -- per attempt; NULL: the task's default
    ADD COLUMN cancel_requested_at timestamptz,       -- a running job was asked to stop
    ADD COLUMN progress real,                         -- 0..1, reported by the running handler
    ADD COLUMN progress_message text;
-- The cancelled list, newest first (like jobs_finished_status_id for done and failed).
CREATE INDEX jobs_cancelled_id ON jobs (id) WHERE status = 'cancelled';
-- The earliest scheduled time of a queue's free pending jobs: an idle worker sleeps until it.
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE status = 'pending' AND lease_token IS NULL;
