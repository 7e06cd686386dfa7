-- `solo_reserve`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH picked AS MATERIALIZED (
    WITH q AS MATERIALIZED (
        SELECT u.name FROM unnest(%(queues)s::text[]) AS u(name)
         WHERE NOT EXISTS (SELECT 1 FROM queues AS p WHERE p.name = u.name AND p.paused)),
    first AS MATERIALIZED (
        SELECT f.id, f.tenant, f.priority, f.run_at FROM q
         CROSS JOIN LATERAL (
               SELECT j.id, j.tenant, j.priority, j.run_at FROM jobs AS j
                WHERE j.status = 'pending' AND (j.lease_token IS NULL) IS TRUE
                  AND j.queue = q.name AND j.run_at <= now()
                ORDER BY j.tenant, j.priority DESC, j.run_at, j.id
                LIMIT %(limit)s
                  FOR UPDATE SKIP LOCKED) AS f),
    lone AS MATERIALIZED (
        SELECT min(f.tenant) AS tenant FROM first AS f HAVING min(f.tenant) = max(f.tenant))
    SELECT f.id FROM first AS f
     WHERE EXISTS (SELECT 1 FROM lone)
       AND NOT EXISTS (SELECT 1 FROM lone JOIN tenants AS s ON s.name = lone.tenant
                        WHERE s.max_running IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM q CROSS JOIN lone
                        WHERE (SELECT min(j.tenant) FROM jobs AS j
                                WHERE j.status = 'pending' AND j.queue = q.name
                                  AND j.tenant > lone.tenant) IS NOT NULL)
     ORDER BY f.priority DESC, f.run_at, f.id
     LIMIT %(limit)s)
UPDATE jobs AS j
   SET lease_owner = %(worker)s, lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts + 1 AS attempts, j.max_retries,
          j.tenant, j.queue, j.trace_id, j.timeout_sec
