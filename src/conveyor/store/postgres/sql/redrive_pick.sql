-- `redrive_pick`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key, unique_while FROM jobs
 WHERE status = 'failed' AND retried_by IS NULL
   AND (%(task)s::text IS NULL OR task = %(task)s::text)
   AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
   AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
   AND (%(error)s::text IS NULL OR strpos(last_error, %(error)s::text) > 0)
   AND (%(failed_after)s::timestamptz IS NULL OR finished_at >= %(failed_after)s::timestamptz)
   AND (%(failed_before)s::timestamptz IS NULL OR finished_at < %(failed_before)s::timestamptz)
   AND id > coalesce(%(after)s::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
 ORDER BY id LIMIT %(limit)s
   FOR UPDATE
