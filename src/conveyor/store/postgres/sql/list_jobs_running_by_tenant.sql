-- `list_jobs_running_by_tenant`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at, created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result, idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec, cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key, unique_while FROM jobs WHERE status = 'running' AND tenant = %s ORDER BY id DESC LIMIT %s OFFSET %s
