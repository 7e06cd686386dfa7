-- `tenant_settings`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT name, weight, max_running, rate_per_minute FROM tenants
