-- Fair dispatch (docs/design.md, "Fair dispatch"): per-tenant settings and the pending index
-- by tenant that round-robin leasing walks.

-- One row per tenant with a setting; NULL is "the default" (weight 1, no cap, the API's
-- RATE_LIMIT_PER_MINUTE). A tenant needs no row to submit: tenants are names.
CREATE TABLE tenants (
    name            TEXT PRIMARY KEY,
    weight          INTEGER CHECK (weight >= 1),
    max_running     INTEGER CHECK (max_running >= 0),
    rate_per_minute INTEGER CHECK (rate_per_minute >= 0),
    updated_at      REAL NOT NULL
);

-- The pending index gains the tenant after the queue: a lease finds each queue's tenants by
-- a skip scan (one descent per tenant) and takes each tenant's best jobs in index order.
-- Replaced, not added: one b-tree write fewer on every submit and lease than a second index.
DROP INDEX jobs_pending;
CREATE INDEX jobs_pending ON jobs (queue, tenant, priority DESC, run_at, id)
    WHERE status = 'pending';
