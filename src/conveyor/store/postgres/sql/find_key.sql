-- `find_key`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT id, hash, role, tenant, name, created_at, revoked_at FROM api_keys WHERE id = %s
