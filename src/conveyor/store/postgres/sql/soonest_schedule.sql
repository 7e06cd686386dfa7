-- `soonest_schedule`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT extract(epoch FROM min(next_run_at) - now())::float8 AS seconds
  FROM schedules WHERE next_run_at IS NOT NULL
