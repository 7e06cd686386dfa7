-- Job control: the `cancelled` status, per-job timeouts, cancellation requests and progress.
-- SQLite cannot change a CHECK constraint in place, so the jobs table is rebuilt (the
-- procedure of https://sqlite.org/lang_altertable.html#otheralter; the migrator turns foreign
-- keys off around it and checks them before it commits). Stop every process of the previous
-- version first.
CREATE TABLE jobs_v4 (
    id                  TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL,
    queue               TEXT NOT NULL,
    task                TEXT NOT NULL,
    payload             TEXT NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    priority            INTEGER NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0,
    max_retries         INTEGER NOT NULL,
    run_at              REAL NOT NULL,
    created_at          REAL NOT NULL,
    started_at          REAL,
    finished_at         REAL,
    lease_token         TEXT,
    lease_owner         TEXT,
    lease_expires_at    REAL,
    last_error          TEXT,
    result              TEXT,
    idempotency_key     TEXT,
    request_hash        TEXT,
    retry_of            TEXT REFERENCES jobs (id),
    retried_by          TEXT REFERENCES jobs (id),
    trace_id            TEXT,
    timeout_sec         REAL,                      -- per attempt; NULL: the task's default
    cancel_requested_at REAL,                      -- a running job was asked to stop
    progress            REAL,                      -- 0..1, reported by the running handler
    progress_message    TEXT
);
INSERT INTO jobs_v4 (id, tenant, queue, task, payload, status, priority, attempts, max_retries,
                     run_at, created_at, started_at, finished_at, lease_token, lease_owner,
                     lease_expires_at, last_error, result, idempotency_key, request_hash,
                     retry_of, retried_by, trace_id)
SELECT id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at,
       created_at, started_at, finished_at, lease_token, lease_owner, lease_expires_at,
       last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id
  FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_pending ON jobs (queue, priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_reserved ON jobs (lease_expires_at)
    WHERE status = 'pending' AND lease_token IS NOT NULL;
-- The earliest scheduled time of a queue's free pending jobs: an idle worker sleeps until it.
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE status = 'pending' AND lease_token IS NULL;
