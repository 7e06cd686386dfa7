-- `retry_insert`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, retry_of, trace_id, timeout_sec, unique_key, unique_while,
                  unique_guard)
SELECT %s, tenant, queue, task, payload, 'pending', priority, max_retries, now(), now(), id,
       coalesce(%s, trace_id), timeout_sec, unique_key, unique_while,
       CASE WHEN %s THEN unique_key END
  FROM jobs WHERE id = %s
    ON CONFLICT DO NOTHING
RETURNING id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key, unique_while
