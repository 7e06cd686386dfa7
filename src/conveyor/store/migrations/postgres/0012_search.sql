-- Searching the history (`conveyor.store.search`): each filter of GET /jobs through an index.
-- Every index here holds finished rows only (`finished_at IS NOT NULL`): a row enters it once,
-- when it finishes, so submits, leases and heartbeats do not pay for search. Live rows (few in
-- a healthy system) are searched through the live indexes. Text (`error`, `payload`) is
-- searched with LIKE, which pg_trgm's trigram indexes answer for three characters or more;
-- pg_trgm is a trusted extension, so the database's owner may create it. `IF NOT EXISTS`: on
-- a large table an operator may build these first with CREATE INDEX CONCURRENTLY (same names
-- and definitions), which a migration's transaction cannot (docs/postgres.md).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS jobs_done_tenant ON jobs (tenant, id) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_done_queue ON jobs (queue, id) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_done_task ON jobs (task, id) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_done_trace ON jobs (trace_id) WHERE finished_at IS NOT NULL
    AND trace_id IS NOT NULL;
-- The dead letters not retried yet, which a redrive counts and takes: a failed job enters
-- these when it fails and leaves them when it is retried.
CREATE INDEX IF NOT EXISTS jobs_dlq_task ON jobs (task, id)
    WHERE status = 'failed' AND retried_by IS NULL AND finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_dlq_queue ON jobs (queue, id)
    WHERE status = 'failed' AND retried_by IS NULL AND finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_dlq_tenant ON jobs (tenant, id)
    WHERE status = 'failed' AND retried_by IS NULL AND finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_done_error ON jobs USING gin (last_error gin_trgm_ops)
    WHERE finished_at IS NOT NULL AND last_error IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_done_payload ON jobs USING gin ((payload::text) gin_trgm_ops)
    WHERE finished_at IS NOT NULL;
