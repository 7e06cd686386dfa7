-- Reservations: a worker may hold pending jobs ahead of a free slot (prefetch), marked by
-- their lease token and renewed by its heartbeats. This index finds the reservations of a
-- worker that stopped renewing them, without walking every pending job.
CREATE INDEX jobs_reserved ON jobs (lease_expires_at)
    WHERE status = 'pending' AND lease_token IS NOT NULL;
