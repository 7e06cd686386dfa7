-- `prune_failed`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT j.id, j.status, j.retried_by FROM jobs AS j
 WHERE j.status = 'failed'
   AND j.finished_at < now() - make_interval(secs => %(age)s)
   AND j.retry_of IS NULL
   AND j.id IS DISTINCT FROM (SELECT job_id FROM job_events ORDER BY seq DESC LIMIT 1)
   AND (j.retried_by IS NULL
        OR EXISTS (SELECT 1 FROM jobs AS r WHERE r.id = j.retried_by
                    AND r.finished_at IS NOT NULL))
 ORDER BY j.finished_at
 LIMIT %(limit)s
   FOR UPDATE OF j SKIP LOCKED
