-- `tenant_stats`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH live AS (
    SELECT tenant, count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'running') AS running
      FROM jobs
     WHERE status IN ('pending', 'running')
       AND (%(name)s::text IS NULL OR tenant = %(name)s::text)
     GROUP BY tenant),
names AS (SELECT tenant AS name FROM live
          UNION SELECT name FROM tenants WHERE %(name)s::text IS NULL
          UNION SELECT %(name)s::text WHERE %(name)s::text IS NOT NULL)
SELECT n.name, t.weight, t.max_running, t.rate_per_minute,
       coalesce(l.pending, 0) AS pending, coalesce(l.running, 0) AS running
  FROM names AS n
  LEFT JOIN live AS l ON l.tenant = n.name
  LEFT JOIN tenants AS t ON t.name = n.name
 ORDER BY n.name
