-- `register_worker`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO workers (id, host, pid, queues, concurrency, started_at, last_seen_at, running)
VALUES (%s, %s, %s, %s, %s, now(), now(), 0)
    ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
RETURNING id
