-- `reserve`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH picked AS MATERIALIZED (
    SELECT c.id
      FROM (SELECT u.name FROM unnest(%(queues)s::text[]) AS u(name)
             WHERE NOT EXISTS (SELECT 1 FROM queues AS p WHERE p.name = u.name AND p.paused))
           AS q(name)
     CROSS JOIN LATERAL (
           SELECT id, priority, run_at FROM jobs
            WHERE status = 'pending' AND lease_token IS NULL AND queue = q.name
              AND run_at <= now()
            ORDER BY priority DESC, run_at, id
            LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED) AS c
     ORDER BY c.priority DESC, c.run_at, c.id
     LIMIT %(limit)s)
UPDATE jobs AS j
   SET lease_owner = %(worker)s, lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts + 1 AS attempts, j.max_retries,
          j.tenant, j.queue, j.trace_id, j.timeout_sec
