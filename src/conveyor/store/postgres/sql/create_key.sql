-- `create_key`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO api_keys (id, hash, role, tenant, name) VALUES (%s, %s, %s, %s, %s)
RETURNING id, hash, role, tenant, name, created_at, revoked_at
