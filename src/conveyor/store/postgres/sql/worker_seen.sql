-- `worker_seen`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE workers SET last_seen_at = now(), running = %s WHERE id = %s RETURNING id
