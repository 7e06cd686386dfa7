-- `job_status`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT status FROM jobs WHERE id = %s
