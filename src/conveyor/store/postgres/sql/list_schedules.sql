-- `list_schedules`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT name, task, payload, queue, tenant, cron, interval_sec, timezone, enabled, overlap, priority, max_retries, source, next_run_at, last_run_at, last_job_id, created_at, updated_at FROM schedules ORDER BY name
