-- conveyor schema v1 (SQLite). Timestamps are Unix epoch seconds (REAL) from the store's clock.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,             -- UUIDv7, time-ordered
    tenant           TEXT NOT NULL,
    queue            TEXT NOT NULL,
    task             TEXT NOT NULL,
    payload          TEXT NOT NULL,                -- JSON object
    status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL,
    run_at           REAL NOT NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at REAL,
    last_error       TEXT,
    result           TEXT,                         -- JSON
    idempotency_key  TEXT,
    request_hash     TEXT,
    retry_of         TEXT REFERENCES jobs (id),
    retried_by       TEXT REFERENCES jobs (id),
    trace_id         TEXT
);

-- Idempotency: one job per (tenant, key).
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Leasing reads only the live rows; history never bloats these.
CREATE INDEX jobs_pending ON jobs (queue, priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
-- Lists by status, newest first, and throughput by finish time.
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE job_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,     -- global order of state changes
    job_id  TEXT NOT NULL,
    type    TEXT NOT NULL,
    status  TEXT NOT NULL,
    at      REAL NOT NULL,
    attempt INTEGER NOT NULL,
    tenant  TEXT NOT NULL,
    task    TEXT NOT NULL,
    worker  TEXT,
    error   TEXT,
    data    TEXT                                   -- JSON object
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

-- Token bucket per tenant, shared by every API process.
CREATE TABLE rate_limits (
    tenant     TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Running totals for /metrics, so it never counts the whole history.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('jobs_submitted', 0), ('retries', 0);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    queues       TEXT NOT NULL,                    -- JSON array
    concurrency  INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    running      INTEGER NOT NULL DEFAULT 0
);
