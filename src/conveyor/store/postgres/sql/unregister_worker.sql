-- `unregister_worker`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
DELETE FROM workers WHERE id = %s RETURNING id
