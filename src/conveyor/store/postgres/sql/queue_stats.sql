-- `queue_stats`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH live AS (
    SELECT queue,
           count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS pending,
           count(*) FILTER (WHERE status = 'pending' AND run_at > now()) AS scheduled,
           count(*) FILTER (WHERE status = 'running') AS running,
           min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()) AS oldest
      FROM jobs WHERE status IN ('pending', 'running')
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text) GROUP BY queue),
recent AS (
    SELECT queue, count(*) FILTER (WHERE status = 'done') AS done,
           count(*) FILTER (WHERE status = 'failed') AS failed
      FROM jobs WHERE finished_at >= now() - interval '1 minute'
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text) GROUP BY queue),
names AS (SELECT queue AS name FROM live UNION SELECT queue FROM recent
          UNION SELECT name FROM queues WHERE %(tenant)s::text IS NULL)
SELECT n.name, coalesce(q.paused, false) AS paused, q.paused_at,
       coalesce(l.pending, 0) AS pending, coalesce(l.scheduled, 0) AS scheduled,
       coalesce(l.running, 0) AS running,
       CASE WHEN l.oldest IS NOT NULL
            THEN greatest(0, extract(epoch FROM now() - l.oldest))::float8 END AS oldest_age,
       coalesce(r.done, 0) AS done, coalesce(r.failed, 0) AS failed
  FROM names AS n
  LEFT JOIN live AS l ON l.queue = n.name
  LEFT JOIN recent AS r ON r.queue = n.name
  LEFT JOIN queues AS q ON q.name = n.name
 WHERE %(name)s::text IS NULL OR n.name = %(name)s::text
 ORDER BY n.name
