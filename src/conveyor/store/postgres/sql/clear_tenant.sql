-- `clear_tenant`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
DELETE FROM tenants WHERE name = %(name)s
