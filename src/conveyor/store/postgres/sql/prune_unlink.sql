-- `prune_unlink`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE jobs SET retry_of = NULL WHERE id = ANY(%s)
