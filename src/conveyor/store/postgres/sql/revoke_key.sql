-- `revoke_key`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s
RETURNING id, hash, role, tenant, name, created_at, revoked_at
