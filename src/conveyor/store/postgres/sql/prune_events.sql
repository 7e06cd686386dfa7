-- `prune_events`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
DELETE FROM job_events WHERE job_id = ANY(%s)
