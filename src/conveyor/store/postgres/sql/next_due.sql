-- `next_due`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT extract(epoch FROM min(d.run_at) - now())::float8 AS due
  FROM unnest(%s::text[]) AS q(name)
 CROSS JOIN LATERAL (
       SELECT run_at FROM jobs
        WHERE status = 'pending' AND lease_token IS NULL AND queue = q.name
          AND run_at > coalesce(now() + make_interval(secs => %s::float8), '-infinity')
        ORDER BY run_at LIMIT 1) AS d
 WHERE NOT EXISTS (SELECT 1 FROM queues WHERE queues.name = q.name AND queues.paused)
