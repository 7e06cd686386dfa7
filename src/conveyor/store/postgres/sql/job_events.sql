-- `job_events`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT seq, job_id, type, status, at, attempt, tenant, task, worker, error, data FROM job_events WHERE job_id = %s ORDER BY seq
