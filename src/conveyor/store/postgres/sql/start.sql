-- `start`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[], %(ago)s::float8[])
           AS o(id, token, ago)),
held AS MATERIALIZED (
    SELECT o.* FROM o
     CROSS JOIN LATERAL (
           SELECT jobs.status, jobs.lease_token FROM jobs WHERE jobs.id = o.id
           OFFSET 0 FOR UPDATE) AS locked_row
     WHERE locked_row.lease_token = o.token AND locked_row.status IN ('pending')),
changed AS (
    UPDATE jobs AS j
       SET status = 'running', attempts = j.attempts + 1,
           started_at = now() - make_interval(secs => greatest(0, o.ago)),
           lease_expires_at = now() + make_interval(secs => %(lease_for)s),
           progress = NULL, progress_message = NULL
      FROM held AS o
     WHERE j.id = o.id AND j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.lease_owner,
              greatest(0, extract(epoch FROM j.started_at - j.run_at)) AS waited),
ev AS (
    SELECT e.*, 'pending'::text AS source
      FROM (
    SELECT id, 'job_leased', status, attempts, tenant, task, lease_owner, NULL::text,
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
SELECT changed.id FROM changed LEFT JOIN notified ON true
