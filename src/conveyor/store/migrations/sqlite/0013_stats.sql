-- Chart samples (`store/charts.py`, `worker/sampler.py`): once a minute one worker writes what
-- the dashboard's charts show, so they survive a reload and a restart. Rows are keyed by the
-- minute they describe (its start, epoch seconds); the sampler deletes those older than
-- STATS_KEEP_DAYS.

-- One row: the last minute sampled (a sampler writes a minute only when it is newer, under
-- the write lock, so each minute is written once however many workers sample), and the last
-- `job_events.seq` read for failures, so each sample reads only the events after it. It
-- starts at the newest event, so upgrading a large database reads no old history.
CREATE TABLE stats_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    minute     INTEGER,
    event_seq  INTEGER NOT NULL,
    sampled_at REAL,
    sampled_by TEXT
);
INSERT INTO stats_state (id, event_seq) SELECT 1, coalesce(max(seq), 0) FROM job_events;

-- Queue depth at the end of the minute, per tenant and queue with live jobs (and a zero row
-- the minute a pair drains); an admin's view sums the tenants.
CREATE TABLE stats_queue_minutes (
    minute                 INTEGER NOT NULL,
    tenant                 TEXT NOT NULL,
    queue                  TEXT NOT NULL,
    pending                INTEGER NOT NULL,      -- runnable now
    running                INTEGER NOT NULL,
    oldest_pending_age_sec REAL,                  -- NULL: none runnable
    PRIMARY KEY (minute, tenant, queue)
);

-- Wait and run time percentiles of the jobs that ended in the minute: a row per tenant, and
-- one for every tenant together (tenant NULL), since percentiles do not add up.
CREATE TABLE stats_latency_minutes (
    minute   INTEGER NOT NULL,
    tenant   TEXT,
    jobs     INTEGER NOT NULL,
    wait_p50 REAL NOT NULL,
    wait_p95 REAL NOT NULL,
    wait_p99 REAL NOT NULL,
    run_p50  REAL NOT NULL,
    run_p95  REAL NOT NULL,
    run_p99  REAL NOT NULL
);
CREATE INDEX stats_latency_minute ON stats_latency_minutes (minute, tenant);

-- Failed attempts per task in the minute (by the events' time), added to by each sample as
-- it reads the events after its cursor.
CREATE TABLE stats_failure_minutes (
    minute   INTEGER NOT NULL,
    tenant   TEXT NOT NULL,
    task     TEXT NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (minute, tenant, task)
);
