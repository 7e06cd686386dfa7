-- `retention_state`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT m.holder, m.last_run_at,
       (SELECT coalesce(jsonb_object_agg(t.name, t.value), '{}'::jsonb)
          FROM (SELECT name, sum(value) AS value FROM counters
                 WHERE name LIKE 'pruned:%%' GROUP BY name) AS t) AS pruned
  FROM (SELECT 1) AS one
  LEFT JOIN maintenance AS m ON m.name = %(name)s
