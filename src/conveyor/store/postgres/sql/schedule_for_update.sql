-- `schedule_for_update`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT name, task, payload, queue, tenant, cron, interval_sec, timezone, enabled, overlap, priority, max_retries, source, next_run_at, last_run_at, last_job_id, created_at, updated_at, now() AS now FROM schedules WHERE name = %s FOR UPDATE
