-- conveyor schema v1 (PostgreSQL). Mirrors migrations/sqlite/0001_initial.sql with native
-- types. Every timestamp that decides a lease or a retry comes from the database clock (now()).

CREATE TABLE jobs (
    id               uuid PRIMARY KEY,             -- UUIDv7, time-ordered
    tenant           text NOT NULL,
    queue            text NOT NULL,
    task             text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL
                     CONSTRAINT jobs_status_check
                     CHECK (status IN ('pending', 'running', 'done', 'failed')),
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    max_retries      integer NOT NULL,
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    lease_token      uuid,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    result           jsonb,
    idempotency_key  text,
    request_hash     text,
    retry_of         uuid CONSTRAINT jobs_retry_of_fkey REFERENCES jobs (id),
    retried_by       uuid CONSTRAINT jobs_retried_by_fkey REFERENCES jobs (id),
    trace_id         text
) WITH (
    -- A queue table churns: every job is updated three or more times. Vacuum it early so
    -- the partial indexes below do not fill with dead entries that every lease must step over.
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02
);

-- Idempotency: one job per (tenant, key); submit uses ON CONFLICT on this index.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Leasing and rescue read only the live rows, so a million finished jobs never slow them.
CREATE INDEX jobs_pending ON jobs (queue, priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
-- The DLQ and the done list, newest first, and throughput by finish time. Live rows are not
-- in these: every status change writes a new row version into every index it belongs to, so
-- each index a pending or running row avoids is work saved on every submit and lease. Lists of
-- pending or running jobs walk the primary key backwards (they are the newest rows anyway).
-- No index on tenant: filtering by tenant reads more rows; add one if that becomes common.
CREATE INDEX jobs_finished_status_id ON jobs (status, id) WHERE status IN ('done', 'failed');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE job_events (
    -- Global order of state changes. Writers take a transaction-level advisory lock before
    -- allocating seq values, so seq order is commit order (see store/postgres/events.py).
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  uuid NOT NULL,
    type    text NOT NULL,
    status  text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    attempt integer NOT NULL,
    tenant  text NOT NULL,
    task    text NOT NULL,
    worker  text,
    error   text,
    data    jsonb
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

-- Token bucket per tenant, shared by every API process; updated in one atomic statement.
CREATE TABLE rate_limits (
    tenant     text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Running totals for /metrics (jobs_submitted, retries, done, failed). Sharded by backend so
-- concurrent producers rarely wait on one another's row lock; readers sum the shards.
CREATE TABLE counters (
    name  text NOT NULL,
    shard smallint NOT NULL,
    value bigint NOT NULL,
    PRIMARY KEY (name, shard)
);

CREATE TABLE workers (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    queues       text[] NOT NULL,
    concurrency  integer NOT NULL,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    running      integer NOT NULL DEFAULT 0
);
