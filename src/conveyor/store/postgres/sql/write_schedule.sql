-- `write_schedule`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO schedules (name, task, payload, queue, tenant, cron, interval_sec, timezone,
                       enabled, overlap, priority, max_retries, source, next_run_at)
VALUES (%(name)s, %(task)s, %(payload)s::jsonb, %(queue)s, %(tenant)s, %(cron)s,
        %(interval_sec)s, %(timezone)s, %(enabled)s, %(overlap)s, %(priority)s,
        %(max_retries)s, %(source)s, %(next_run_at)s)
    ON CONFLICT (name) DO UPDATE SET
       task = excluded.task, payload = excluded.payload, queue = excluded.queue,
       tenant = excluded.tenant, cron = excluded.cron, interval_sec = excluded.interval_sec,
       timezone = excluded.timezone, enabled = excluded.enabled, overlap = excluded.overlap,
       priority = excluded.priority, max_retries = excluded.max_retries,
       source = excluded.source, next_run_at = excluded.next_run_at, updated_at = now()
RETURNING name, task, payload, queue, tenant, cron, interval_sec, timezone, enabled, overlap, priority, max_retries, source, next_run_at, last_run_at, last_job_id, created_at, updated_at
