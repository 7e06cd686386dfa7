-- `tenant_running`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT lease_owner, count(*) AS n FROM jobs WHERE status = 'running' AND tenant = %s
 GROUP BY lease_owner
