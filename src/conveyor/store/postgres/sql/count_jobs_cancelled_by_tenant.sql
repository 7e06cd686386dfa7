-- `count_jobs_cancelled_by_tenant`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT count(*) AS n FROM jobs WHERE status = 'cancelled' AND tenant = %s
