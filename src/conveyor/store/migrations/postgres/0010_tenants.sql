-- Fair dispatch (docs/design.md, "Fair dispatch"): per-tenant settings, the pending index by
-- tenant that round-robin leasing walks, and the lock-then-count that keeps a tenant's
-- `max_running` exact across workers.

-- One row per tenant with a setting; NULL is "the default" (weight 1, no cap, the API's
-- RATE_LIMIT_PER_MINUTE). A tenant needs no row to submit: tenants are names.
CREATE TABLE tenants (
    name            text PRIMARY KEY,
    weight          integer CONSTRAINT tenants_weight_check CHECK (weight >= 1),
    max_running     integer CONSTRAINT tenants_max_running_check CHECK (max_running >= 0),
    rate_per_minute integer CONSTRAINT tenants_rate_check CHECK (rate_per_minute >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The pending index gains the tenant after the queue: a lease finds each queue's tenants by
-- a skip scan (one descent per tenant) and takes each tenant's best jobs in index order.
-- Replaced, not added: one index fewer to write on every submit and lease.
DROP INDEX jobs_pending;
CREATE INDEX jobs_pending ON jobs (queue, tenant, priority DESC, run_at, id)
    WHERE status = 'pending';

-- The jobs each of `names` holds (running, or reserved ahead of a slot), counted after
-- taking a transaction lock per tenant, in one order. VOLATILE: its query takes a fresh
-- snapshot, so it sees every lease committed by the previous holder of the lock; a lease
-- that calls it holds the locks until it commits. Leases of capped tenants are serialized
-- by it, and `held` is exact: a cap is never overshot by concurrent workers.
CREATE FUNCTION conveyor_tenants_held(names text[])
    RETURNS TABLE (tenant text, held bigint)
    LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    key integer;
BEGIN
    IF coalesce(cardinality(names), 0) = 0 THEN
        RETURN;
    END IF;
    FOR key IN SELECT DISTINCT hashtext(n) FROM unnest(names) AS n ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1952804468, key);  -- "tent": the tenant-cap lock space
    END LOOP;
    RETURN QUERY
        SELECT h.tenant, count(*)::bigint
          FROM (SELECT j.tenant FROM jobs AS j
                 WHERE j.status = 'running' AND j.tenant = ANY(names)
                UNION ALL
                SELECT j.tenant FROM jobs AS j
                 WHERE j.status = 'pending' AND j.lease_token IS NOT NULL
                   AND j.tenant = ANY(names)) AS h
         GROUP BY h.tenant;
END
$$;
