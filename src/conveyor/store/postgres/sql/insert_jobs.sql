-- `insert_jobs`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, idempotency_key, request_hash, trace_id, timeout_sec,
                  unique_key, unique_while, unique_guard)

SELECT id, tenant, queue, task, payload::jsonb, 'pending', priority, max_retries,
       CASE WHEN at IS NULL THEN now() + make_interval(secs => delay)
            ELSE greatest(at, now()) END,
       now(), key, hash, trace, timeout, unique_key, unique_while, unique_key
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[],
              %s::int[], %s::float8[], %s::text[], %s::text[], %s::text[],
              %s::timestamptz[], %s::float8[], %s::text[], %s::text[])
       AS t(id, tenant, queue, task, payload, priority, max_retries, delay, key, hash,
            trace, at, timeout, unique_key, unique_while)

    ON CONFLICT DO NOTHING
RETURNING id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key, unique_while
