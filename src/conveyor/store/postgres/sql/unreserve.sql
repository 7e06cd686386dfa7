-- `unreserve`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
held AS MATERIALIZED (
    SELECT o.* FROM o
     CROSS JOIN LATERAL (
           SELECT jobs.status, jobs.lease_token FROM jobs WHERE jobs.id = o.id
           OFFSET 0 FOR UPDATE) AS locked_row
     WHERE locked_row.lease_token = o.token AND locked_row.status IN ('pending')),
freed AS (UPDATE jobs AS j SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
 WHERE j.id = ANY(ARRAY(SELECT id FROM held))
RETURNING j.id),
woke AS (SELECT pg_notify('conveyor_work', '') FROM freed HAVING count(*) > 0)
SELECT freed.id FROM freed LEFT JOIN woke ON true
