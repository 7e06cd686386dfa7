-- `redrive_count`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT count(*) AS n, now() AS as_of FROM jobs WHERE status = 'failed' AND retried_by IS NULL
   AND (%(task)s::text IS NULL OR task = %(task)s::text)
   AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
   AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
   AND (%(error)s::text IS NULL OR strpos(last_error, %(error)s::text) > 0)
   AND (%(failed_after)s::timestamptz IS NULL OR finished_at >= %(failed_after)s::timestamptz)
   AND (%(failed_before)s::timestamptz IS NULL OR finished_at < %(failed_before)s::timestamptz)
