-- `set_tenant`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO tenants AS t (name, weight, max_running, rate_per_minute, updated_at)
VALUES (%(name)s, %(weight)s, %(max_running)s, %(rate_per_minute)s, now())
    ON CONFLICT (name) DO UPDATE
   SET weight = excluded.weight, max_running = excluded.max_running,
       rate_per_minute = excluded.rate_per_minute, updated_at = excluded.updated_at
