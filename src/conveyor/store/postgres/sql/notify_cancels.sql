-- `notify_cancels`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT pg_notify(%s, id::text) FROM unnest(%s::uuid[]) AS id
