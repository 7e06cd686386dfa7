"""Every statement the PostgreSQL driver runs, one constant each, by operation.

The event-writing ones are assembled by `events.logged()` (which adds the events, their
counters, the event lock and the NOTIFY; see `events.py` for the lock order). To read any of
them whole, open `sql/<name>.sql`: those files are rendered from these constants by
`python -m conveyor.store.postgres.render` and a test fails when they are stale.
Placeholders are psycopg's (`%s`, `%(name)s`; `%%` is a literal `%`).
"""

from __future__ import annotations

import textwrap

from conveyor.lifecycle import JobStatus
from conveyor.store import rules
from conveyor.store.postgres.events import WORK_CHANNEL as _WORK_CHANNEL
from conveyor.store.postgres.events import logged
from conveyor.store.rows import EVENT_COLUMNS, JOB_COLUMNS, SCHEDULE_COLUMNS, WORKER_COLUMNS

RESCUE_BATCH = 10_000
"""Most expired leases one `rescue()` call handles; the rescuer calls it again."""

_LAST = rules.last_attempt_sql("j.attempts", "j.max_retries")

# -- producers ----------------------------------------------------------------------------------

# A given `at` in the past runs now (it does not jump ahead of jobs already waiting).
_JOB_COLUMNS_IN = """id, tenant, queue, task, payload, priority, max_retries, delay, key, hash,
            trace, at, timeout, unique_key, unique_while"""
_JOB_TYPES_IN = ("uuid", "text", "text", "text", "text", "int", "int", "float8", "text", "text",
                 "text", "timestamptz", "float8", "text", "text")


def _job_values(source: str) -> str:
    """The new rows of `jobs` from `source`, which names them t(`_JOB_COLUMNS_IN`)."""
    return f"""
SELECT id, tenant, queue, task, payload::jsonb, 'pending', priority, max_retries,
       CASE WHEN at IS NULL THEN now() + make_interval(secs => delay)
            ELSE greatest(at, now()) END,
       now(), key, hash, trace, timeout, unique_key, unique_while, unique_key
  FROM {source}
       AS t({_JOB_COLUMNS_IN})
"""


def _insert_jobs(source: str) -> str:
    # No conflict target: a row whose idempotency key (`jobs_idempotency`) or unique key
    # (`jobs_unique`, on `unique_guard`) is taken is skipped, and the caller reads back which.
    return f"""
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, idempotency_key, request_hash, trace_id, timeout_sec,
                  unique_key, unique_while, unique_guard)
{_job_values(source)}
    ON CONFLICT DO NOTHING
RETURNING {JOB_COLUMNS}
"""


_ROWS = "unnest({})".format(textwrap.fill(", ".join(f"%s::{t}[]" for t in _JOB_TYPES_IN),
                                          80, subsequent_indent=" " * 14))
"""Any number of jobs, one array per column."""
_ONE_ROW = "(VALUES ({}))".format(textwrap.fill(", ".join(f"%s::{t}" for t in _JOB_TYPES_IN),
                                               80, subsequent_indent=" " * 15))
"""One job, one value per column: neither side handles arrays (a tenth of a millisecond of
a single submit's round trip, measured)."""

INSERT_JOBS = _insert_jobs(_ROWS)
"""Insert jobs without events (the transaction path adds them with `append_tail`)."""

# A big batch without keys (nothing it inserts can conflict): the rows as `submit_many` built
# them, the transaction's `now()` included, by binary COPY (events.COPY_ROWS says when).
COPY_JOBS = """
COPY jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at, created_at,
           trace_id, timeout_sec) FROM STDIN (FORMAT BINARY)
"""
COPY_JOB_TYPES = ["uuid", "text", "text", "text", "jsonb", "text", "int4", "int4",
                  "timestamptz", "timestamptz", "text", "float8"]

NOW = "SELECT now() AS now"
"""The transaction's time: what now() means in every statement it runs."""


def _submit(source: str) -> str:
    return logged(
        f"""changed AS ({_insert_jobs(source).strip()})""",
        events="""
    SELECT id, 'job_created', status, attempts, tenant, task, NULL::text, NULL::text,
           NULL::jsonb
      FROM changed""",
        source=None,
        returning="changed.*",
    )


SUBMIT = _submit(_ROWS)
"""Insert jobs with their events in one statement; replays of a key and unique hits return
no row."""
SUBMIT_ONE = _submit(_ONE_ROW)
"""`SUBMIT` of one job, its columns as scalars (a submit alone, the common case)."""

# One atomic statement per batch: refill by elapsed database time, take `wanted` tokens, or
# leave the row alone (and return nothing for that tenant) when the bucket is short.
TAKE_TOKENS = """
INSERT INTO rate_limits AS r (tenant, tokens, updated_at)
SELECT tenant, %(capacity)s - wanted, now()
  FROM unnest(%(tenants)s::text[], %(wanted)s::float8[]) AS t(tenant, wanted)
 ORDER BY tenant
    ON CONFLICT (tenant) DO UPDATE
   SET tokens = least(%(capacity)s, r.tokens + greatest(0, extract(epoch FROM now() - r.updated_at)::float8) * %(refill)s)
                - (%(capacity)s - excluded.tokens),
       updated_at = greatest(r.updated_at, now())
 WHERE least(%(capacity)s, r.tokens + greatest(0, extract(epoch FROM now() - r.updated_at)::float8) * %(refill)s)
       >= %(capacity)s - excluded.tokens
RETURNING tenant
"""  # noqa: E501

TOKENS_NOW = """
SELECT least(%(capacity)s, tokens + greatest(0, extract(epoch FROM now() - updated_at)::float8) * %(refill)s) AS tokens
  FROM rate_limits WHERE tenant = %(tenant)s
"""  # noqa: E501

# -- workers ------------------------------------------------------------------------------------

# Fair dispatch (docs/design.md, "Fair dispatch"): round-robin by tenant, weighted, within
# each tenant's cap; priority orders a tenant's own jobs, not one tenant's against another's.
# MATERIALIZED keeps the planner from inlining the pick into the UPDATE (and running it more
# than once); SKIP LOCKED lets concurrent workers take disjoint batches without waiting.
# - `qt`: the tenants with pending jobs in each queue that is not paused, by a skip scan of
#   `jobs_pending` (queue, tenant, …): one index descent per tenant, two for a queue of one.
# - `capped`: the room left under `max_running` of each capped tenant, counted by
#   `conveyor_tenants_held` (migration 0010) under a lock per tenant and on a fresh snapshot,
#   so concurrent leases never overshoot a cap. Gated: without a capped tenant it never runs.
# - `load`: what each tenant holds now (running, or reserved), the round-robin's state;
#   counted only when there is more than one tenant to order.
# - per (queue, tenant), one index-ordered scan (LATERAL) of its best runnable, unreserved
#   jobs; then the k-th job of a tenant ranks at (held + k) / weight: the tenant furthest
#   below its share goes first, a tenant of weight 2 gets two turns to one, and the oldest
#   job breaks a tie. With one tenant this is the old order: priority desc, then oldest.
# `(lease_token IS NULL) IS TRUE` is `lease_token IS NULL` that the planner cannot match to
# `jobs_due`'s predicate: on a young table (or a stale estimate, frozen into the generic plan)
# it would scan `jobs_due` and sort every runnable job of the queue (15 ms at 10,000 jobs,
# measured) instead of reading the tenant's first rows of `jobs_pending` in order.
# Rows a scan locks beyond the final LIMIT are released at commit, a moment later.
_QUEUES = """q AS MATERIALIZED (
        SELECT u.name FROM unnest(%(queues)s::text[]) AS u(name)
         WHERE NOT EXISTS (SELECT 1 FROM queues AS p WHERE p.name = u.name AND p.paused))"""

_PICK = f"""picked AS MATERIALIZED (
    WITH RECURSIVE {_QUEUES},
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
     LIMIT %(limit)s)"""

# The pick of a queue set where one uncapped tenant is the only one that can be leased: the
# fair pick's order is then that tenant's own, and its ranking (whose plan costs more to start
# than to run: a lease of 10 measured 1.69-1.98 ms, against 1.36-1.58 before fair dispatch
# and 1.51-1.74 with this) has nothing to decide. `first` takes each queue's best runnable,
# unreserved, unlocked jobs in `jobs_pending` order (tenant first): the first such tenant's;
# they are the pick when no other tenant appears among them, none has pending jobs after that
# tenant in any of the queues (one bounded probe each: the index's next tenant), and it has no
# cap. A tenant before it has nothing `first` could take, so the fair pick would take nothing
# of it either. Otherwise this returns nothing and the caller runs the fair pick (workers.py):
# never a wrong lease, at worst a declined one.
_SOLO_PICK = f"""picked AS MATERIALIZED (
    WITH {_QUEUES},
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
     LIMIT %(limit)s)"""

def _lease(pick: str) -> str:
    return logged(
        f"""{pick},
changed AS (
    UPDATE jobs AS j
       SET status = 'running', attempts = j.attempts + 1, lease_owner = %(worker)s,
           lease_token = gen_random_uuid(), started_at = now(),
           lease_expires_at = now() + make_interval(secs => %(lease_for)s),
           progress = NULL, progress_message = NULL
     WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts, j.max_retries, j.tenant,
              j.queue, j.trace_id, j.timeout_sec, j.status,
              greatest(0, extract(epoch FROM now() - j.run_at)) AS waited)""",
        events=f"""
    SELECT id, 'job_leased', status, attempts, tenant, task, %(worker)s::text, NULL::text,
           jsonb_build_object('wait', round(waited::numeric, {rules.WAIT_DECIMALS}))
      FROM changed""",
        source=JobStatus.PENDING,
        returning="""changed.id, changed.lease_token, changed.task, changed.payload,
       changed.attempts, changed.max_retries, changed.tenant, changed.queue, changed.trace_id,
       changed.timeout_sec""",
    )


LEASE = _lease(_PICK)
SOLO_LEASE = _lease(_SOLO_PICK)
"""LEASE when one tenant holds the queues' pending jobs; nothing otherwise (`_SOLO_PICK`)."""

# Each row is locked through its primary key, in id order (callers sort), and the fence (token
# and status) is checked on the locked row. OFFSET 0 keeps the planner from pushing
# `status = 'running'` into the locking scan, where it would pick the `jobs_running` partial
# index and walk all of it once per row (its statistics often say it is nearly empty). The
# UPDATE then finds the rows by `id = ANY(ARRAY(…))`, an index condition whatever the planner
# thinks of the join, so a 10,000-row table is not scanned whole to update 100 rows.
def _held(statuses: str = "'running'") -> str:
    return f"""held AS MATERIALIZED (
    SELECT o.* FROM o
     CROSS JOIN LATERAL (
           SELECT jobs.status, jobs.lease_token FROM jobs WHERE jobs.id = o.id
           OFFSET 0 FOR UPDATE) AS locked_row
     WHERE locked_row.lease_token = o.token AND locked_row.status IN ({statuses}))"""


_HELD = _held()
_RESERVED = _held("'pending'")
_HELD_OR_RESERVED = _held("'pending', 'running'")

# What an outcome makes of its job (o: the outcome, j: the row before it).
_OUTCOME_STATUS = f"""CASE WHEN o.ok THEN 'done'
                         WHEN o.cancelled THEN 'cancelled'
                         WHEN o.permanent OR {_LAST} THEN 'failed'
                         WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                         ELSE 'pending' END"""

FINISH = logged(
    f"""o AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[], %(ok)s::bool[], %(results)s::text[],
                         %(errors)s::text[], %(retry_in)s::float8[], %(permanent)s::bool[],
                         %(cancelled)s::bool[], %(error_types)s::text[], %(tracebacks)s::text[])
           AS o(id, token, ok, result, error, retry_in, permanent, cancelled, error_type,
                traceback)),
{_HELD},
changed AS (
    UPDATE jobs AS j
       SET status = {_OUTCOME_STATUS},
           result = CASE WHEN o.ok THEN o.result::jsonb ELSE j.result END,
           finished_at = CASE WHEN {_OUTCOME_STATUS} <> 'pending' THEN now() END,
           run_at = CASE WHEN {_OUTCOME_STATUS} = 'pending'
                         THEN now() + make_interval(secs => o.retry_in) ELSE j.run_at END,
           last_error = CASE WHEN o.ok THEN j.last_error ELSE o.error END,
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM held AS o
     WHERE j.id = o.id AND j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, o.token, j.status, j.attempts, j.tenant, j.task, o.ok, o.error, o.retry_in,
              o.error_type, o.traceback,
              greatest(0, extract(epoch FROM now() - coalesce(j.started_at, now()))) AS runtime)""",
    events=f"""
    SELECT id,
           CASE status WHEN 'done' THEN 'job_succeeded'
                       WHEN 'pending' THEN 'job_retry_scheduled'
                       WHEN 'cancelled' THEN 'job_cancelled'
                       ELSE 'job_failed' END,
           status, attempts, tenant, task, %(worker)s::text,
           CASE WHEN ok THEN NULL ELSE error END,
           jsonb_strip_nulls(jsonb_build_object(
               'runtime', round(runtime::numeric, {rules.WAIT_DECIMALS}),
               'retry_in', CASE WHEN status = 'pending'
                                THEN round(retry_in::numeric, {rules.RETRY_IN_DECIMALS}) END,
               'error_type', error_type,
               'traceback', traceback))
      FROM changed""",
    source=JobStatus.RUNNING,
    returning="changed.id, changed.token",
)
"""All outcomes of a batch in one UPDATE … FROM unnest(…)."""

RELEASE = logged(
    f"""o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
{_HELD},
changed AS (
    UPDATE jobs AS j
       SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'pending' ELSE 'cancelled' END,
           attempts = CASE WHEN j.cancel_requested_at IS NULL
                           THEN greatest(0, j.attempts - 1) ELSE j.attempts END,
           finished_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           last_error = CASE WHEN j.cancel_requested_at IS NULL THEN j.last_error
                             ELSE %(cancelled_error)s END,
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
     WHERE j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.last_error)""",
    events="""
    SELECT id, CASE WHEN status = 'cancelled' THEN 'job_cancelled' ELSE 'job_released' END,
           status, attempts, tenant, task, NULL::text,
           CASE WHEN status = 'cancelled' THEN last_error END, NULL::jsonb
      FROM changed""",
    source=JobStatus.RUNNING,
    returning="changed.id",
)

def _reserve(pick: str) -> str:
    return f"""
WITH {pick}
UPDATE jobs AS j
   SET lease_owner = %(worker)s, lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts + 1 AS attempts, j.max_retries,
          j.tenant, j.queue, j.trace_id, j.timeout_sec
"""


RESERVE = _reserve(_PICK)
"""Hold jobs ahead of a free slot: they stay `pending` (no event: nothing a user sees
changes) with the worker's lease token, until `START` when their handler begins."""
SOLO_RESERVE = _reserve(_SOLO_PICK)
"""RESERVE when one tenant holds the queues' pending jobs; nothing otherwise."""

START = logged(
    f"""o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[], %(ago)s::float8[])
           AS o(id, token, ago)),
{_RESERVED},
changed AS (
    UPDATE jobs AS j
       SET status = 'running', attempts = j.attempts + 1,
           started_at = now() - make_interval(secs => greatest(0, o.ago)),
           lease_expires_at = now() + make_interval(secs => %(lease_for)s),
           progress = NULL, progress_message = NULL
      FROM held AS o
     WHERE j.id = o.id AND j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.lease_owner,
              greatest(0, extract(epoch FROM j.started_at - j.run_at)) AS waited)""",
    events=f"""
    SELECT id, 'job_leased', status, attempts, tenant, task, lease_owner, NULL::text,
           jsonb_build_object('wait', round(waited::numeric, {rules.WAIT_DECIMALS}))
      FROM changed""",
    source=JobStatus.PENDING,
    returning="changed.id",
)
"""Reserved jobs whose handlers have begun (`ago` seconds before) become `running`, with
their `job_leased`."""

def _freeing(ctes: str, update: str) -> str:
    """`update` (an UPDATE … RETURNING id that frees reserved jobs, with no event) after
    `ctes`, and one NOTIFY on `WORK_CHANNEL` when it freed any: other workers may lease them."""
    return f"""
WITH {ctes}freed AS ({update}),
woke AS (SELECT pg_notify('{_WORK_CHANNEL}', '') FROM freed HAVING count(*) > 0)
SELECT freed.id FROM freed LEFT JOIN woke ON true
"""


UNRESERVE = _freeing(
    f"""o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
{_RESERVED},
""",
    """UPDATE jobs AS j SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
 WHERE j.id = ANY(ARRAY(SELECT id FROM held))
RETURNING j.id""")
"""Hand reserved jobs back (a stopping worker): no attempt was spent, no event is due."""

EXPIRE_RESERVATIONS = _freeing("", f"""
UPDATE jobs SET lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
 WHERE id = ANY(ARRAY(
       SELECT id FROM jobs
        WHERE status = 'pending' AND lease_token IS NOT NULL AND lease_expires_at < now()
        ORDER BY lease_expires_at
        LIMIT {RESCUE_BATCH}
          FOR UPDATE SKIP LOCKED))
RETURNING id""")
"""Reservations of a worker that stopped renewing them: the jobs are simply free again."""

_RESCUED_STATUS = f"""CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                          WHEN {_LAST} THEN 'failed' ELSE 'pending' END"""

# A rescued job keeps its `run_at`, so it goes back to its place in the queue (ahead of what
# was submitted after it), not to the end. SKIP LOCKED: a job whose row is locked is being
# finished or heartbeated right now; the rescuer never waits for (or deadlocks with) a live
# worker.
RESCUE = logged(
    f"""expired AS MATERIALIZED (
    SELECT id, lease_owner FROM jobs
     WHERE status = 'running' AND lease_expires_at < now()
     ORDER BY lease_expires_at
     LIMIT {RESCUE_BATCH}
       FOR UPDATE SKIP LOCKED),
changed AS (
    UPDATE jobs AS j
       SET status = {_RESCUED_STATUS},
           finished_at = CASE WHEN {_RESCUED_STATUS} <> 'pending' THEN now() END,
           last_error = {rules.rescue_error_sql("e.lease_owner")},
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM expired AS e
     WHERE j.id = e.id AND j.id = ANY(ARRAY(SELECT id FROM expired))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.last_error, e.lease_owner)""",
    events="""
    SELECT id, CASE status WHEN 'failed' THEN 'job_failed'
                           WHEN 'cancelled' THEN 'job_cancelled'
                           ELSE 'job_lease_expired' END,
           status, attempts, tenant, task, lease_owner, last_error, NULL::jsonb
      FROM changed""",
    source=JobStatus.RUNNING,
    returning="changed.id",
)

HEARTBEAT = f"""
WITH o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
{_HELD_OR_RESERVED}
UPDATE jobs AS j SET lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM held))
RETURNING j.id, j.cancel_requested_at IS NOT NULL AS cancelling
"""

PROGRESS = logged(
    f"""o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[], %(fractions)s::float8[],
                               %(messages)s::text[]) AS o(id, token, fraction, message)),
{_HELD},
changed AS (
    UPDATE jobs AS j SET progress = o.fraction, progress_message = o.message
      FROM held AS o
     WHERE j.id = o.id AND j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.lease_owner, o.fraction,
              o.message)""",
    events="""
    SELECT id, 'job_progress', status, attempts, tenant, task, lease_owner, NULL::text,
           jsonb_build_object('progress', fraction, 'message', message)
      FROM changed""",
    source=JobStatus.RUNNING,
    returning="changed.id",
)
"""Running handlers' progress, with a `job_progress` event each (the dashboard's live bar)."""

# The first free pending job of each queue by time (the `jobs_due` index), the earliest of them;
# with `later_than` (seconds from now; NULL: any time), the first due after that (a range scan).
NEXT_DUE = """
SELECT extract(epoch FROM min(d.run_at) - now())::float8 AS due
  FROM unnest(%s::text[]) AS q(name)
 CROSS JOIN LATERAL (
       SELECT run_at FROM jobs
        WHERE status = 'pending' AND lease_token IS NULL AND queue = q.name
          AND run_at > coalesce(now() + make_interval(secs => %s::float8), '-infinity')
        ORDER BY run_at LIMIT 1) AS d
 WHERE NOT EXISTS (SELECT 1 FROM queues WHERE queues.name = q.name AND queues.paused)
"""

# -- queues -------------------------------------------------------------------------------------

# Live jobs by queue through the partial indexes of pending and running jobs, finished ones of
# the last minute through `jobs_finished`, and every queue with a pause state.
QUEUE_STATS = """
WITH live AS (
    SELECT queue,
           count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS pending,
           count(*) FILTER (WHERE status = 'pending' AND run_at > now()) AS scheduled,
           count(*) FILTER (WHERE status = 'running') AS running,
           min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now()) AS oldest
      FROM jobs WHERE status IN ('pending', 'running')
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text) GROUP BY queue),
recent AS (
    SELECT queue, count(*) FILTER (WHERE status = 'done') AS done,
           count(*) FILTER (WHERE status = 'failed') AS failed
      FROM jobs WHERE finished_at >= now() - interval '1 minute'
       AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text) GROUP BY queue),
names AS (SELECT queue AS name FROM live UNION SELECT queue FROM recent
          UNION SELECT name FROM queues WHERE %(tenant)s::text IS NULL)
SELECT n.name, coalesce(q.paused, false) AS paused, q.paused_at,
       coalesce(l.pending, 0) AS pending, coalesce(l.scheduled, 0) AS scheduled,
       coalesce(l.running, 0) AS running,
       CASE WHEN l.oldest IS NOT NULL
            THEN greatest(0, extract(epoch FROM now() - l.oldest))::float8 END AS oldest_age,
       coalesce(r.done, 0) AS done, coalesce(r.failed, 0) AS failed
  FROM names AS n
  LEFT JOIN live AS l ON l.queue = n.name
  LEFT JOIN recent AS r ON r.queue = n.name
  LEFT JOIN queues AS q ON q.name = n.name
 WHERE %(name)s::text IS NULL OR n.name = %(name)s::text
 ORDER BY n.name
"""

SET_QUEUE_PAUSED = """
INSERT INTO queues AS q (name, paused, paused_at, updated_at)
VALUES (%(name)s, %(paused)s, CASE WHEN %(paused)s THEN now() END, now())
    ON CONFLICT (name) DO UPDATE
   SET paused = excluded.paused,
       paused_at = CASE WHEN excluded.paused AND q.paused THEN q.paused_at
                        ELSE excluded.paused_at END,
       updated_at = excluded.updated_at
"""
"""Pause or resume a queue (pausing a paused one keeps when it was paused)."""

# -- tenants ------------------------------------------------------------------------------------

# Every tenant with a setting or with live jobs (or the one named, whatever it has), its
# settings and its pending and running jobs, through the partial indexes of live jobs.
TENANT_STATS = """
WITH live AS (
    SELECT tenant, count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'running') AS running
      FROM jobs
     WHERE status IN ('pending', 'running')
       AND (%(name)s::text IS NULL OR tenant = %(name)s::text)
     GROUP BY tenant),
names AS (SELECT tenant AS name FROM live
          UNION SELECT name FROM tenants WHERE %(name)s::text IS NULL
          UNION SELECT %(name)s::text WHERE %(name)s::text IS NOT NULL)
SELECT n.name, t.weight, t.max_running, t.rate_per_minute,
       coalesce(l.pending, 0) AS pending, coalesce(l.running, 0) AS running
  FROM names AS n
  LEFT JOIN live AS l ON l.tenant = n.name
  LEFT JOIN tenants AS t ON t.name = n.name
 ORDER BY n.name
"""

SET_TENANT = """
INSERT INTO tenants AS t (name, weight, max_running, rate_per_minute, updated_at)
VALUES (%(name)s, %(weight)s, %(max_running)s, %(rate_per_minute)s, now())
    ON CONFLICT (name) DO UPDATE
   SET weight = excluded.weight, max_running = excluded.max_running,
       rate_per_minute = excluded.rate_per_minute, updated_at = excluded.updated_at
"""
"""Replace a tenant's settings (`CLEAR_TENANT` when none is left)."""

CLEAR_TENANT = "DELETE FROM tenants WHERE name = %(name)s"

TENANT_SETTINGS = "SELECT name, weight, max_running, rate_per_minute FROM tenants"

# -- cancelling ---------------------------------------------------------------------------------

def _cancel_pending(target: str, data: str) -> str:
    return logged(
        f"""changed AS (
    UPDATE jobs
       SET status = 'cancelled', finished_at = now(),
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
     WHERE {target} AND status = 'pending'
    RETURNING {JOB_COLUMNS})""",
        events=f"""
    SELECT id, 'job_cancelled', status, attempts, tenant, task, NULL::text, NULL::text,
           {data}
      FROM changed""",
        source=JobStatus.PENDING,
        returning="changed.*",
    )


def _request_cancel(target: str, data: str) -> str:
    return logged(
        f"""changed AS (
    UPDATE jobs SET cancel_requested_at = now()
     WHERE {target} AND status = 'running' AND cancel_requested_at IS NULL
    RETURNING {JOB_COLUMNS})""",
        events=f"""
    SELECT id, 'job_cancel_requested', status, attempts, tenant, task, NULL::text, NULL::text,
           {data}
      FROM changed""",
        source=JobStatus.RUNNING,
        returning="changed.*",
    )


CANCEL_PENDING = _cancel_pending("id = %(id)s", "NULL::jsonb")
"""A pending job (scheduled, waiting for a retry, or reserved by a worker) ends at once; a
reservation's start then finds it gone."""

REQUEST_CANCEL = _request_cancel("id = %(id)s", "NULL::jsonb")
"""A running job is asked to stop; its worker is told by `CANCEL_CHANNEL` or a heartbeat."""

CANCEL_PENDING_MATCHED = _cancel_pending("id = ANY(%(ids)s::uuid[])", "%(data)s::jsonb")
REQUEST_CANCEL_MATCHED = _request_cancel("id = ANY(%(ids)s::uuid[])", "%(data)s::jsonb")
"""A bulk cancel's batch (`Store.cancel_matching`): the same changes for the batch's locked
jobs, each event's data saying which bulk action it was."""

NOTIFY_CANCELS = "SELECT pg_notify(%s, id::text) FROM unnest(%s::uuid[]) AS id"


# -- reads --------------------------------------------------------------------------------------

GET = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s"

GET_FOR_UPDATE = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s FOR UPDATE"

DELETE_JOBS = "DELETE FROM jobs WHERE id = ANY(%s)"
"""Undo inserts of the same transaction that a rate limit refused (no event names them yet)."""

REPLAY = f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = %s AND idempotency_key = %s"

UNIQUE_HOLDER = f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = %s AND unique_guard = %s"
"""The live job holding a unique key (through `jobs_unique`)."""

JOB_EVENTS = f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = %s ORDER BY seq"

EVENTS_AFTER = f"SELECT {EVENT_COLUMNS} FROM job_events WHERE seq > %s ORDER BY seq LIMIT %s"

LAST_EVENT_SEQ = "SELECT coalesce(max(seq), 0) AS seq FROM job_events"

COUNTERS = "SELECT name, sum(value) AS value FROM counters GROUP BY name"

THROUGHPUT = """
SELECT date_trunc('minute', finished_at) AS minute,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM jobs
 WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => %(minutes)s - 1)
   AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
 GROUP BY 1 ORDER BY 1
"""

TENANT_COUNTS = """
SELECT status, count(*) AS n, count(retry_of) AS retries FROM jobs WHERE tenant = %s
 GROUP BY status
"""
"""One tenant's figures from its rows (the counters are kept for all tenants together)."""

TENANT_RUNNING = """
SELECT lease_owner, count(*) AS n FROM jobs WHERE status = 'running' AND tenant = %s
 GROUP BY lease_owner
"""


# -- the worker registry ------------------------------------------------------------------------

REGISTER_WORKER = """
INSERT INTO workers (id, host, pid, queues, concurrency, started_at, last_seen_at, running)
VALUES (%s, %s, %s, %s, %s, now(), now(), 0)
    ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
RETURNING id
"""

WORKER_SEEN = "UPDATE workers SET last_seen_at = now(), running = %s WHERE id = %s RETURNING id"

UNREGISTER_WORKER = "DELETE FROM workers WHERE id = %s RETURNING id"

LIST_WORKERS = f"""
SELECT {WORKER_COLUMNS} FROM workers
 WHERE last_seen_at >= now() - make_interval(secs => %s)
 ORDER BY started_at
"""

RETRY_INSERT = f"""
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, retry_of, trace_id, timeout_sec, unique_key, unique_while,
                  unique_guard)
SELECT %s, tenant, queue, task, payload, 'pending', priority, max_retries, now(), now(), id,
       coalesce(%s, trace_id), timeout_sec, unique_key, unique_while,
       CASE WHEN %s THEN unique_key END
  FROM jobs WHERE id = %s
    ON CONFLICT DO NOTHING
RETURNING {JOB_COLUMNS}
"""
"""The copy keeps the unique key and holds it (third parameter true); a live job holding the
key already skips the row, and the copy is inserted again without holding it."""

RETRY_LINK = "UPDATE jobs SET retried_by = %s WHERE id = %s"

# -- the dead-letter queue ----------------------------------------------------------------------

REDRIVE_INSERT = f"""
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, retry_of, trace_id, timeout_sec, unique_key, unique_while)
SELECT n.new_id, j.tenant, j.queue, j.task, j.payload, 'pending', j.priority, j.max_retries,
       now(), now(), j.id, coalesce(%(trace_id)s::text, j.trace_id), j.timeout_sec,
       j.unique_key, j.unique_while
  FROM unnest(%(new_ids)s::uuid[], %(old_ids)s::uuid[]) AS n(new_id, old_id)
  JOIN jobs j ON j.id = n.old_id
 ORDER BY n.new_id
RETURNING {JOB_COLUMNS}
"""
"""`RETRY_INSERT` for a batch: each old job's copy, under its new id. A copy keeps its
unique key but does not hold it (two jobs of one batch may share a key)."""

REDRIVE_LINK = """
UPDATE jobs j SET retried_by = n.new_id
  FROM unnest(%(new_ids)s::uuid[], %(old_ids)s::uuid[]) AS n(new_id, old_id)
 WHERE j.id = n.old_id
"""

# -- schedules ----------------------------------------------------------------------------------

SCHEDULE = f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = %s"

SCHEDULE_FOR_UPDATE = (
    f"SELECT {SCHEDULE_COLUMNS}, now() AS now FROM schedules WHERE name = %s FOR UPDATE")

LIST_SCHEDULES = f"SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"

WRITE_SCHEDULE = f"""
INSERT INTO schedules (name, task, payload, queue, tenant, cron, interval_sec, timezone,
                       enabled, overlap, priority, max_retries, source, next_run_at)
VALUES (%(name)s, %(task)s, %(payload)s::jsonb, %(queue)s, %(tenant)s, %(cron)s,
        %(interval_sec)s, %(timezone)s, %(enabled)s, %(overlap)s, %(priority)s,
        %(max_retries)s, %(source)s, %(next_run_at)s)
    ON CONFLICT (name) DO UPDATE SET
       task = excluded.task, payload = excluded.payload, queue = excluded.queue,
       tenant = excluded.tenant, cron = excluded.cron, interval_sec = excluded.interval_sec,
       timezone = excluded.timezone, enabled = excluded.enabled, overlap = excluded.overlap,
       priority = excluded.priority, max_retries = excluded.max_retries,
       source = excluded.source, next_run_at = excluded.next_run_at, updated_at = now()
RETURNING {SCHEDULE_COLUMNS}
"""

DELETE_SCHEDULE = "DELETE FROM schedules WHERE name = %s RETURNING name"

DUE_SCHEDULES = f"""
SELECT {SCHEDULE_COLUMNS}, now() AS now FROM schedules
 WHERE next_run_at <= now()
 ORDER BY next_run_at
   FOR UPDATE SKIP LOCKED
"""
"""Another worker firing a schedule holds its row; this one skips it rather than wait."""

JOB_STATUS = "SELECT status FROM jobs WHERE id = %s"

MARK_SCHEDULED = f"""
UPDATE jobs AS j SET schedule = t.fired_by, scheduled_for = t.tick
  FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) AS t(job_id, fired_by, tick)
 WHERE j.id = t.job_id
RETURNING {", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))}
"""

STEP_SCHEDULE = """
UPDATE schedules SET next_run_at = %s, last_run_at = %s, last_job_id = coalesce(%s, last_job_id)
 WHERE name = %s
"""

SOONEST_SCHEDULE = """
SELECT extract(epoch FROM min(next_run_at) - now())::float8 AS seconds
  FROM schedules WHERE next_run_at IS NOT NULL
"""

# -- retention ----------------------------------------------------------------------------------

HOLD_MAINTENANCE = """
UPDATE maintenance
   SET holder = %(holder)s, held_until = now() + make_interval(secs => %(hold_for)s),
       last_run_at = now()
 WHERE name = %(name)s
   AND (holder = %(holder)s OR held_until IS NULL OR held_until < now())
RETURNING name
"""
"""Take or renew a maintenance task's lease; no row while another holder's is live (a second
worker waits on the row lock for the holder's short transaction, then finds it held)."""

# One status's oldest finished jobs past its age (`jobs_status_finished`), but not: a retry
# while the job it retried is stored (`retry_of` set: a chain goes oldest first), a retried job
# whose retry has not finished, nor the job with the newest event (deleting that event would
# move the log's last seq back). The status is a literal, one statement per status: with a
# parameter the planner cannot tell that the index on (status, finished_at) fits, and walks
# `jobs_finished` over every other status's rows. SKIP LOCKED: a row a DLQ retry holds is left
# for a later batch.
def _prune_candidates(status: JobStatus) -> str:
    return f"""
SELECT j.id, j.status, j.retried_by FROM jobs AS j
 WHERE j.status = '{JobStatus(status).value}'
   AND j.finished_at < now() - make_interval(secs => %(age)s)
   AND j.retry_of IS NULL
   AND j.id IS DISTINCT FROM (SELECT job_id FROM job_events ORDER BY seq DESC LIMIT 1)
   AND (j.retried_by IS NULL
        OR EXISTS (SELECT 1 FROM jobs AS r WHERE r.id = j.retried_by
                    AND r.finished_at IS NOT NULL))
 ORDER BY j.finished_at
 LIMIT %(limit)s
   FOR UPDATE OF j SKIP LOCKED
"""


PRUNE_DONE = _prune_candidates(JobStatus.DONE)
PRUNE_FAILED = _prune_candidates(JobStatus.FAILED)
PRUNE_CANCELLED = _prune_candidates(JobStatus.CANCELLED)
PRUNE_CANDIDATES = {JobStatus.DONE: PRUNE_DONE, JobStatus.FAILED: PRUNE_FAILED,
                    JobStatus.CANCELLED: PRUNE_CANCELLED}
"""The candidates statement of each finished status."""

PRUNE_EVENTS = "DELETE FROM job_events WHERE job_id = ANY(%s)"

PRUNE_UNLINK = "UPDATE jobs SET retry_of = NULL WHERE id = ANY(%s)"
"""Retries whose original is pruned become the heads of their chains."""

PRUNE_JOBS = "DELETE FROM jobs WHERE id = ANY(%s)"

RETENTION_STATE = """
SELECT m.holder, m.last_run_at,
       (SELECT coalesce(jsonb_object_agg(t.name, t.value), '{}'::jsonb)
          FROM (SELECT name, sum(value) AS value FROM counters
                 WHERE name LIKE 'pruned:%%' GROUP BY name) AS t) AS pruned
  FROM (SELECT 1) AS one
  LEFT JOIN maintenance AS m ON m.name = %(name)s
"""

# -- API keys -----------------------------------------------------------------------------------

_KEY_COLUMNS = "id, hash, role, tenant, name, created_at, revoked_at"

CREATE_KEY = f"""
INSERT INTO api_keys (id, hash, role, tenant, name) VALUES (%s, %s, %s, %s, %s)
RETURNING {_KEY_COLUMNS}
"""

FIND_KEY = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s"
"""Authenticating a request: prepared, one primary-key probe (and cached by the API)."""

LIST_KEYS = f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"

REVOKE_KEY = f"""
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s
RETURNING {_KEY_COLUMNS}
"""
