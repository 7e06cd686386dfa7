-- `copy_jobs`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
COPY jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at, created_at,
           trace_id, timeout_sec) FROM STDIN (FORMAT BINARY)
