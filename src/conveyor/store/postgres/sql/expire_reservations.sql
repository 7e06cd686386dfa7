-- `expire_reservations`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
WITH freed AS (
UPDATE jobs SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
 WHERE id = ANY(ARRAY(
       SELECT id FROM jobs
        WHERE status = 'pending' AND lease_token IS NOT NULL AND lease_expires_at < now()
        ORDER BY lease_expires_at
        LIMIT 10000
          FOR UPDATE SKIP LOCKED))
RETURNING id),
woke AS (SELECT pg_notify('conveyor_work', '') FROM freed HAVING count(*) > 0)
SELECT freed.id FROM freed LEFT JOIN woke ON true
