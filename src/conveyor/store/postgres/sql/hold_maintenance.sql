-- `hold_maintenance`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
UPDATE maintenance
   SET holder = %(holder)s, held_until = now() + make_interval(secs => %(hold_for)s),
       last_run_at = now()
 WHERE name = %(name)s
   AND (holder = %(holder)s OR held_until IS NULL OR held_until < now())
RETURNING name
