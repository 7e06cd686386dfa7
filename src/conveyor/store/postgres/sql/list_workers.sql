-- `list_workers`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT id, host, pid, queues, concurrency, started_at, last_seen_at, running FROM workers
 WHERE last_seen_at >= now() - make_interval(secs => %s)
 ORDER BY started_at
