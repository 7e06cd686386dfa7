-- `reserve`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH picked AS MATERIALIZED (
    WITH RECURSIVE q AS MATERIALIZED (
        SELECT u.name FROM unnest(%(queues)s::text[]) AS u(name)
         WHERE NOT EXISTS (SELECT 1 FROM queues AS p WHERE p.name = u.name AND p.paused)),
    qt(queue, tenant) AS (
        SELECT q.name, (SELECT min(j.tenant) FROM jobs AS j
                         WHERE j.status = 'pending' AND j.queue = q.name) FROM q
        UNION ALL
        SELECT qt.queue, (SELECT min(j.tenant) FROM jobs AS j
                           WHERE j.status = 'pending' AND j.queue = qt.queue
                             AND j.tenant > qt.tenant)
          FROM qt WHERE qt.tenant IS NOT NULL),
    t AS MATERIALIZED (
        SELECT d.tenant, coalesce(s.weight, 1) AS weight, s.max_running
          FROM (SELECT DISTINCT qt.tenant FROM qt WHERE qt.tenant IS NOT NULL) AS d
          LEFT JOIN tenants AS s ON s.name = d.tenant),
    capped AS MATERIALIZED (
        SELECT t.tenant, greatest(0, t.max_running - coalesce(h.held, 0)) AS room
          FROM t LEFT JOIN conveyor_tenants_held(ARRAY(
                   SELECT c.tenant FROM t AS c WHERE c.max_running IS NOT NULL
                    ORDER BY c.tenant)) AS h ON h.tenant = t.tenant
         WHERE t.max_running IS NOT NULL
           AND EXISTS (SELECT 1 FROM t AS c WHERE c.max_running IS NOT NULL)),
    load AS MATERIALIZED (
        SELECT h.tenant, count(*) AS held
          FROM (SELECT j.tenant FROM jobs AS j WHERE j.status = 'running'
                UNION ALL
                SELECT j.tenant FROM jobs AS j
                 WHERE j.status = 'pending' AND j.lease_token IS NOT NULL) AS h
         WHERE (SELECT count(*) FROM t) > 1 AND h.tenant IN (SELECT t.tenant FROM t)
         GROUP BY h.tenant),
    c AS (
        SELECT p.id, p.priority, p.run_at, t.tenant, t.weight, cp.room
          FROM qt
          JOIN t ON t.tenant = qt.tenant
          LEFT JOIN capped AS cp ON cp.tenant = qt.tenant
         CROSS JOIN LATERAL (
               SELECT j.id, j.priority, j.run_at FROM jobs AS j
                WHERE j.status = 'pending' AND (j.lease_token IS NULL) IS TRUE
                  AND j.queue = qt.queue AND j.tenant = qt.tenant AND j.run_at <= now()
                ORDER BY j.priority DESC, j.run_at, j.id
                LIMIT least(%(limit)s, coalesce(cp.room, %(limit)s))
                  FOR UPDATE SKIP LOCKED) AS p),
    r AS (
        SELECT c.id, c.run_at, c.room, c.weight, coalesce(l.held, 0) AS held,
               row_number() OVER (PARTITION BY c.tenant
                                  ORDER BY c.priority DESC, c.run_at, c.id) AS k
          FROM c LEFT JOIN load AS l ON l.tenant = c.tenant)
    SELECT r.id FROM r
     WHERE r.room IS NULL OR r.k <= r.room
     ORDER BY (r.held + r.k)::float8 / r.weight, r.run_at, r.id
     LIMIT %(limit)s)
UPDATE jobs AS j
   SET lease_owner = %(worker)s, lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts + 1 AS attempts, j.max_retries,
          j.tenant, j.queue, j.trace_id, j.timeout_sec
