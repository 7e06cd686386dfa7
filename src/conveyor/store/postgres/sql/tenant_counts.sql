-- `tenant_counts`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT status, count(*) AS n, count(retry_of) AS retries FROM jobs WHERE tenant = %s
 GROUP BY status
