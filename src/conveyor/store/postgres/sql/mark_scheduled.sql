-- `mark_scheduled`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE jobs AS j SET schedule = t.fired_by, scheduled_for = t.tick
  FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) AS t(job_id, fired_by, tick)
 WHERE j.id = t.job_id
RETURNING j.id, j.tenant, j.queue, j.task, j.payload, j.status, j.priority, j.attempts, j.max_retries, j.run_at, j.created_at, j.started_at, j.finished_at, j.lease_owner, j.lease_expires_at, j.last_error, j.result, j.idempotency_key, j.request_hash, j.retry_of, j.retried_by, j.trace_id, j.timeout_sec, j.cancel_requested_at, j.progress, j.progress_message, j.schedule, j.scheduled_for, j.unique_key, j.unique_while
