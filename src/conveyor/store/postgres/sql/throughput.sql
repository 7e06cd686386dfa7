-- `throughput`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT date_trunc('minute', finished_at) AS minute,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM jobs
 WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => %(minutes)s - 1)
   AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
 GROUP BY 1 ORDER BY 1
