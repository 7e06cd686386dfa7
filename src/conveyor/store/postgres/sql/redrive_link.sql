-- `redrive_link`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE jobs j SET retried_by = n.new_id
  FROM unnest(%(new_ids)s::uuid[], %(old_ids)s::uuid[]) AS n(new_id, old_id)
 WHERE j.id = n.old_id
