-- `redrive_insert`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, retry_of, trace_id, timeout_sec, unique_key, unique_while)
SELECT n.new_id, j.tenant, j.queue, j.task, j.payload, 'pending', j.priority, j.max_retries,
       now(), now(), j.id, coalesce(%(trace_id)s::text, j.trace_id), j.timeout_sec,
       j.unique_key, j.unique_while
  FROM unnest(%(new_ids)s::uuid[], %(old_ids)s::uuid[]) AS n(new_id, old_id)
  JOIN jobs j ON j.id = n.old_id
 ORDER BY n.new_id
RETURNING id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key, unique_while
