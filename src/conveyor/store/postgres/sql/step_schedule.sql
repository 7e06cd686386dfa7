-- `step_schedule`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE schedules SET next_run_at = %s, last_run_at = %s, last_job_id = coalesce(%s, last_job_id)
 WHERE name = %s
