-- `heartbeat`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
held AS MATERIALIZED (
    SELECT o.* FROM o
     CROSS JOIN LATERAL (
           SELECT jobs.status, jobs.lease_token FROM jobs WHERE jobs.id = o.id
           OFFSET 0 FOR UPDATE) AS locked_row
     WHERE locked_row.lease_token = o.token AND locked_row.status IN ('pending', 'running'))
UPDATE jobs AS j SET lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM held))
RETURNING j.id, j.cancel_requested_at IS NOT NULL AS cancelling
