-- `search_count_all`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT sum(n) AS n, bool_and(whole) AS exact, now() AS as_of FROM ((SELECT count(*) AS n, true AS whole FROM (SELECT 1 FROM jobs WHERE status = 'pending' LIMIT 10001) AS m) UNION ALL (SELECT count(*) AS n, true AS whole FROM (SELECT 1 FROM jobs WHERE status = 'running' LIMIT 10001) AS m) UNION ALL (SELECT count(*) AS n, true AS whole FROM (SELECT 1 FROM jobs WHERE finished_at IS NOT NULL LIMIT 10001) AS m)) AS parts
