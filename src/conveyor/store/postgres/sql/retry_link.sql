-- `retry_link`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE jobs SET retried_by = %s WHERE id = %s
