-- `delete_schedule`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
DELETE FROM schedules WHERE name = %s RETURNING name
