-- `solo_lease`: generated from conveyor/store/postgres/statements.py by
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
