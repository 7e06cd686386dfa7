-- `prune_jobs`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
DELETE FROM jobs WHERE id = ANY(%s)
