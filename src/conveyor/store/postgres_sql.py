"""The PostgreSQL driver's statements, and how each one writes its events.

Hot paths (lease, finish, release, rescue, plain submit) are each ONE statement, run in
autocommit: a data-modifying CTE named `changed` does the work, and `logged()` appends CTEs
that bump the counters, take the event lock, insert the `job_events` rows (built in SQL from
`changed`, so no event data crosses the wire) and send one NOTIFY. One statement means one
round trip and no BEGIN/COMMIT; on two cores the client's CPU per round trip is what limits
throughput. Paths that need a decision in Python between statements (idempotency replays
with rate limits, DLQ retry) run as a transaction and end with `append_tail`.

Lock order, the same everywhere so that writers cannot deadlock one another:
jobs rows → rate_limits rows → counters rows → the event lock. `logged()` enforces it inside
one statement by making each step aggregate over the previous one (`count(*)` cannot return
before the CTE it counts has finished). Batches lock their jobs rows in id order. A deadlock
that still happens (with a statement run by hand, say) is retried by the store.

Ordering events: `seq` comes from a sequence, and sequence values are handed out when a row is
inserted, not when its transaction commits. Without care, a transaction could take seq 10,
another take 11 and commit first; a reader of `events_after(9)` would see 11, move its cursor
there and never see 10. Every event-writing transaction therefore takes
`pg_advisory_xact_lock(EVENT_LOCK_KEY)` right before inserting its events, as its last step,
and holds it until its commit is visible, so seq order is commit order and a reader never
sees a gap that is later filled (gaps left by rolled-back transactions stay gaps). The price:
the event inserts and commits of writers are serialized; the jobs updates, the SKIP LOCKED
leasing and the counters run in parallel, and batches (lease n, finish n) amortize the rest.
PostgreSQL serializes the commits of notifying transactions anyway (the NOTIFY queue lock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import psycopg

from conveyor.models import EventType, JobId
from conveyor.store.postgres_rows import JOB_COLUMNS, Row, dumps

Conn: TypeAlias = psycopg.AsyncConnection[Row]

EVENT_LOCK_KEY = 7165066986957399414
"""pg_advisory_xact_lock key that orders event inserts ("conveyev")."""

NOTIFY_CHANNEL = "conveyor_events"
"""Every event-writing transaction sends one NOTIFY here; the payload is its highest seq."""

COUNTER_SHARDS = 32
"""Counter rows per name. A transaction bumps the shard of its backend (pid % shards), so
concurrent producers on different connections do not queue on one hot row."""

RESCUE_BATCH = 10_000
"""Most expired leases one `rescue()` call handles; the rescuer calls it again."""

EventRow: TypeAlias = tuple[
    JobId, str, str, int, str, str, "str | None", "str | None", "str | None"
]
"""(job_id, type, status, attempt, tenant, task, worker, error, data JSON); `at` is now()."""


def logged(changes: str, *, events: str, counters: str | None, returning: str) -> str:
    """One statement: `changes` (CTEs, the last named `changed`), then counters, the event
    lock, the events and one NOTIFY, in that order; it returns `returning` (columns of
    `changed`).

    `events` selects (job_id, type, status, attempt, tenant, task, worker, error, data) from
    `changed`; `counters` selects (name, delta) rows. Each later CTE reads the whole of the
    one before it, which is what orders the locks; data-modifying CTEs always run to the end.
    """
    bumped = ""
    after_bumped = ""
    if counters is not None:
        bumped = f"""
bumped AS (
    INSERT INTO counters AS c (name, shard, value)
    SELECT name, pg_backend_pid() %% {COUNTER_SHARDS}, delta
      FROM ({counters}) AS d(name, delta)
     WHERE delta > 0
     ORDER BY name
        ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value
    RETURNING 1),"""
        after_bumped = ", (SELECT count(*) FROM bumped) AS b"
    return f"""
WITH {changes},{bumped}
locked AS (
    SELECT pg_advisory_xact_lock({EVENT_LOCK_KEY}) AS held
      FROM (SELECT count(*) AS n FROM changed) AS c{after_bumped}
     WHERE c.n > 0),
appended AS (
    INSERT INTO job_events (job_id, type, status, attempt, tenant, task, worker, error, data)
    SELECT e.* FROM ({events}) AS e, locked ORDER BY 1
    RETURNING seq),
notified AS (
    SELECT pg_notify('{NOTIFY_CHANNEL}', max(seq)::text) AS sent FROM appended
    HAVING count(*) > 0)
SELECT {returning} FROM changed LEFT JOIN notified ON true
"""


# -- producers ----------------------------------------------------------------------------------

_JOB_VALUES = """
SELECT id, tenant, queue, task, payload::jsonb, 'pending', priority, max_retries,
       now() + make_interval(secs => delay), now(), key, hash, trace
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[],
              %s::float8[], %s::text[], %s::text[], %s::text[])
       AS t(id, tenant, queue, task, payload, priority, max_retries, delay, key, hash, trace)
"""

INSERT_JOBS = f"""
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, idempotency_key, request_hash, trace_id)
{_JOB_VALUES}
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING {JOB_COLUMNS}
"""
"""Insert jobs without events (the transaction path adds them with `append_tail`)."""

SUBMIT = logged(
    f"""changed AS ({INSERT_JOBS.strip()})""",
    events="""
    SELECT id, 'job_created', status, attempts, tenant, task, NULL::text, NULL::text,
           NULL::jsonb
      FROM changed""",
    counters="SELECT 'jobs_submitted', count(*) FROM changed",
    returning="changed.*",
)
"""Insert jobs with their events in one statement; replays of a key return no row."""

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

# MATERIALIZED keeps the planner from inlining the LIMIT subquery into the UPDATE (and running
# it more than once); SKIP LOCKED lets concurrent workers take disjoint batches without waiting.
# One index-ordered scan per queue (LATERAL): `queue = ANY(…)` would make PostgreSQL read and
# sort every pending row of those queues. Rows a queue locks beyond the final LIMIT are
# released at commit, a moment later.
LEASE = logged(
    """picked AS MATERIALIZED (
    SELECT c.id
      FROM unnest(%(queues)s::text[]) AS q(name)
     CROSS JOIN LATERAL (
           SELECT id, priority, run_at FROM jobs
            WHERE status = 'pending' AND queue = q.name AND run_at <= now()
            ORDER BY priority DESC, run_at, id
            LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED) AS c
     ORDER BY c.priority DESC, c.run_at, c.id
     LIMIT %(limit)s),
changed AS (
    UPDATE jobs AS j
       SET status = 'running', attempts = j.attempts + 1, lease_owner = %(worker)s,
           lease_token = gen_random_uuid(), started_at = now(),
           lease_expires_at = now() + make_interval(secs => %(lease_for)s)
     WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.lease_token, j.task, j.payload, j.attempts, j.max_retries, j.tenant,
              j.queue, j.trace_id, j.status,
              greatest(0, extract(epoch FROM now() - j.run_at)) AS waited)""",
    events="""
    SELECT id, 'job_leased', status, attempts, tenant, task, %(worker)s::text, NULL::text,
           jsonb_build_object('wait', round(waited::numeric, 6))
      FROM changed""",
    counters=None,
    returning="""changed.id, changed.lease_token, changed.task, changed.payload,
       changed.attempts, changed.max_retries, changed.tenant, changed.queue, changed.trace_id""",
)

# Each row is locked through its primary key, in id order (callers sort), and the fence (token
# and status) is checked on the locked row. OFFSET 0 keeps the planner from pushing
# `status = 'running'` into the locking scan, where it would pick the `jobs_running` partial
# index and walk all of it once per row (its statistics often say it is nearly empty). The
# UPDATE then finds the rows by `id = ANY(ARRAY(…))`, an index condition whatever the planner
# thinks of the join, so a 10,000-row table is not scanned whole to update 100 rows.
_HELD = """held AS MATERIALIZED (
    SELECT o.* FROM o
     CROSS JOIN LATERAL (
           SELECT jobs.status, jobs.lease_token FROM jobs WHERE jobs.id = o.id
           OFFSET 0 FOR UPDATE) AS locked_row
     WHERE locked_row.lease_token = o.token AND locked_row.status = 'running')"""

FINISH = logged(
    f"""o AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[], %(ok)s::bool[], %(results)s::text[],
                         %(errors)s::text[], %(retry_in)s::float8[], %(permanent)s::bool[])
           AS o(id, token, ok, result, error, retry_in, permanent)),
{_HELD},
changed AS (
    UPDATE jobs AS j
       SET status = CASE WHEN o.ok THEN 'done'
                         WHEN o.permanent OR j.attempts > j.max_retries THEN 'failed'
                         ELSE 'pending' END,
           result = CASE WHEN o.ok THEN o.result::jsonb ELSE j.result END,
           finished_at = CASE WHEN o.ok OR o.permanent OR j.attempts > j.max_retries
                              THEN now() END,
           run_at = CASE WHEN o.ok OR o.permanent OR j.attempts > j.max_retries THEN j.run_at
                         ELSE now() + make_interval(secs => o.retry_in) END,
           last_error = CASE WHEN o.ok THEN j.last_error ELSE o.error END,
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM held AS o
     WHERE j.id = o.id AND j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, o.token, j.status, j.attempts, j.tenant, j.task, o.ok, o.error, o.retry_in,
              greatest(0, extract(epoch FROM now() - coalesce(j.started_at, now()))) AS runtime)""",
    events="""
    SELECT id,
           CASE status WHEN 'done' THEN 'job_succeeded'
                       WHEN 'pending' THEN 'job_retry_scheduled'
                       ELSE 'job_failed' END,
           status, attempts, tenant, task, %(worker)s::text,
           CASE WHEN ok THEN NULL ELSE error END,
           CASE WHEN status = 'pending'
                THEN jsonb_build_object('runtime', round(runtime::numeric, 6),
                                        'retry_in', round(retry_in::numeric, 3))
                ELSE jsonb_build_object('runtime', round(runtime::numeric, 6)) END
      FROM changed""",
    counters="""
    SELECT 'done', count(*) FILTER (WHERE status = 'done') FROM changed
    UNION ALL SELECT 'failed', count(*) FILTER (WHERE status = 'failed') FROM changed
    UNION ALL SELECT 'retries', count(*) FILTER (WHERE status = 'pending') FROM changed""",
    returning="changed.id, changed.token",
)
"""All outcomes of a batch in one UPDATE … FROM unnest(…)."""

RELEASE = logged(
    f"""o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
{_HELD},
changed AS (
    UPDATE jobs AS j
       SET status = 'pending', attempts = greatest(0, j.attempts - 1),
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
     WHERE j.id = ANY(ARRAY(SELECT id FROM held))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task)""",
    events="""
    SELECT id, 'job_released', status, attempts, tenant, task, NULL::text, NULL::text,
           NULL::jsonb
      FROM changed""",
    counters=None,
    returning="changed.id",
)

# SKIP LOCKED: a job whose row is locked is being finished or heartbeated right now; the
# rescuer never waits for (or deadlocks with) a live worker.
RESCUE = logged(
    f"""expired AS MATERIALIZED (
    SELECT id, lease_owner FROM jobs
     WHERE status = 'running' AND lease_expires_at < now()
     ORDER BY lease_expires_at
     LIMIT {RESCUE_BATCH}
       FOR UPDATE SKIP LOCKED),
changed AS (
    UPDATE jobs AS j
       SET status = CASE WHEN j.attempts > j.max_retries THEN 'failed' ELSE 'pending' END,
           finished_at = CASE WHEN j.attempts > j.max_retries THEN now() END,
           run_at = CASE WHEN j.attempts > j.max_retries THEN j.run_at ELSE now() END,
           last_error = 'lease expired: worker ' || coalesce(e.lease_owner, 'None')
                        || ' stopped renewing it',
           lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
      FROM expired AS e
     WHERE j.id = e.id AND j.id = ANY(ARRAY(SELECT id FROM expired))
    RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.last_error, e.lease_owner)""",
    events="""
    SELECT id, CASE WHEN status = 'failed' THEN 'job_failed' ELSE 'job_lease_expired' END,
           status, attempts, tenant, task, lease_owner, last_error, NULL::jsonb
      FROM changed""",
    counters="""
    SELECT 'failed', count(*) FILTER (WHERE status = 'failed') FROM changed
    UNION ALL SELECT 'retries', count(*) FILTER (WHERE status = 'pending') FROM changed""",
    returning="changed.id",
)

HEARTBEAT = f"""
WITH o AS (SELECT * FROM unnest(%(ids)s::uuid[], %(tokens)s::uuid[]) AS o(id, token)),
{_HELD}
UPDATE jobs AS j SET lease_expires_at = now() + make_interval(secs => %(lease_for)s)
 WHERE j.id = ANY(ARRAY(SELECT id FROM held))
RETURNING j.id
"""

# -- the end of a multi-statement transaction ---------------------------------------------------

_BUMP = f"""
INSERT INTO counters AS c (name, shard, value)
SELECT name, pg_backend_pid() %% {COUNTER_SHARDS}, delta
  FROM unnest(%s::text[], %s::bigint[]) AS t(name, delta)
 ORDER BY name
    ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value
"""

_APPEND_EVENTS = f"""
WITH appended AS (
    INSERT INTO job_events (job_id, type, status, attempt, tenant, task, worker, error, data)
    SELECT job_id, type, status, attempt, tenant, task, worker, error, data::jsonb
      FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[],
                  %s::text[], %s::text[], %s::text[])
           AS e(job_id, type, status, attempt, tenant, task, worker, error, data)
    RETURNING seq)
SELECT pg_notify('{NOTIFY_CHANNEL}', max(seq)::text) FROM appended HAVING count(*) > 0
"""


def event(
    row: Row,
    type: EventType,
    *,
    worker: str | None = None,
    error: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> EventRow:
    """The event for a job row as it is after the change (id, status, attempts, tenant, task)."""
    return (
        row["id"],
        type.value,
        row["status"],
        row["attempts"],
        row["tenant"],
        row["task"],
        worker,
        error,
        None if data is None else dumps(data),
    )


async def append_tail(
    conn: Conn, events: Sequence[EventRow], counters: Mapping[str, int] | None = None
) -> None:
    """The last statements of a multi-statement transaction: counters, then (under the event
    lock) the events and one NOTIFY. Nothing may lock rows after this."""
    bumps = sorted((name, delta) for name, delta in (counters or {}).items() if delta)
    if bumps:
        await conn.execute(_BUMP, ([n for n, _ in bumps], [d for _, d in bumps]))
    if events:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK_KEY,))
        await conn.execute(_APPEND_EVENTS, [list(column) for column in zip(*events, strict=True)])
