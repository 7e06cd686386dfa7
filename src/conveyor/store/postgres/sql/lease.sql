-- `lease`: generated from conveyor/store/postgres/statements.py by
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
     LIMIT %(limit)s),
changed AS (
    UPDATE jobs AS j
       SET status = 'running', attempts = j.attempts + 1, lease_owner = %(worker)s,
           lease_token = gen_random_uuid(), started_at = now(),
           lease_expires_at = now() + make_interval(secs => %(lease_for)s),
           progress = NULL, progress_message = NULL
     WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts, j.max_retries, j.tenant,
              j.queue, j.trace_id, j.timeout_sec, j.status,
              greatest(0, extract(epoch FROM now() - j.run_at)) AS waited),
ev AS (
    SELECT e.*, 'pending'::text AS source
      FROM (
    SELECT id, 'job_leased', status, attempts, tenant, task, %(worker)s::text, NULL::text,
           jsonb_build_object('wait', round(waited::numeric, 6))
      FROM changed) AS e(job_id, type, status, attempt, tenant, task, worker, error, data)),
bumped AS (
    INSERT INTO counters AS c (name, shard, value)
    SELECT d.name, pg_backend_pid() %% 32, sum(d.delta)
      FROM ev
      JOIN (VALUES
        ('job_created', NULL, 'jobs_submitted', 1),
        ('job_created', NULL, 'status:pending', 1),
        ('job_leased', 'pending', 'status:pending', -1),
        ('job_leased', 'pending', 'status:running', 1),
        ('job_succeeded', 'running', 'status:done', 1),
        ('job_succeeded', 'running', 'status:running', -1),
        ('job_retry_scheduled', 'running', 'retries', 1),
        ('job_retry_scheduled', 'running', 'status:pending', 1),
        ('job_retry_scheduled', 'running', 'status:running', -1),
        ('job_failed', 'running', 'status:failed', 1),
        ('job_failed', 'running', 'status:running', -1),
        ('job_lease_expired', 'running', 'retries', 1),
        ('job_lease_expired', 'running', 'status:pending', 1),
        ('job_lease_expired', 'running', 'status:running', -1),
        ('job_released', 'running', 'status:pending', 1),
        ('job_released', 'running', 'status:running', -1),
        ('job_cancelled', 'pending', 'status:cancelled', 1),
        ('job_cancelled', 'pending', 'status:pending', -1),
        ('job_cancelled', 'running', 'status:cancelled', 1),
        ('job_cancelled', 'running', 'status:running', -1)) AS d(type, source, name, delta)
        ON d.type = ev.type AND d.source IS NOT DISTINCT FROM ev.source
     GROUP BY d.name
    HAVING sum(d.delta) <> 0
     ORDER BY d.name
        ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value
    RETURNING 1),
locked AS (
    SELECT pg_advisory_xact_lock(7165066986957399414) AS held
      FROM (SELECT count(*) AS n FROM changed) AS c, (SELECT count(*) FROM bumped) AS b
     WHERE c.n > 0),
appended AS (
    INSERT INTO job_events (job_id, type, status, attempt, tenant, task, worker, error, data)
    SELECT ev.job_id, ev.type, ev.status, ev.attempt, ev.tenant, ev.task, ev.worker, ev.error,
           ev.data
      FROM ev, locked ORDER BY 1
    RETURNING seq, status),
notified AS (
    SELECT pg_notify('conveyor_events', max(seq)::text) AS sent,
           CASE WHEN bool_or(status = 'pending')
                 OR (bool_or(status IN ('cancelled', 'done', 'failed'))
                     AND EXISTS (SELECT 1 FROM ev JOIN tenants AS t ON t.name = ev.tenant
                                  WHERE t.max_running IS NOT NULL))
                THEN pg_notify('conveyor_work', max(seq)::text) END AS woke
      FROM appended
    HAVING count(*) > 0)
SELECT changed.id, changed.lease_token, changed.task, changed.payload,
       changed.attempts, changed.max_retries, changed.tenant, changed.queue, changed.trace_id,
       changed.timeout_sec FROM changed LEFT JOIN notified ON true
