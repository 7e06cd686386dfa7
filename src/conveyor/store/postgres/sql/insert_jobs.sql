-- `insert_jobs`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, idempotency_key, request_hash, trace_id, timeout_sec)

SELECT id, tenant, queue, task, payload::jsonb, 'pending', priority, max_retries,
       CASE WHEN at IS NULL THEN now() + make_interval(secs => delay)
            ELSE greatest(at, now()) END,
       now(), key, hash, trace, timeout
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[],
              %s::float8[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
              %s::float8[])
       AS t(id, tenant, queue, task, payload, priority, max_retries, delay, key, hash, trace,
            at, timeout)

    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message
