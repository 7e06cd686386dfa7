"""Writing `job_events` rows on PostgreSQL, with the counters their transitions move, and the
lock that makes event order commit order.

Hot paths (lease, finish, release, rescue, plain submit) are each ONE statement, run in
autocommit: a data-modifying CTE named `changed` does the work, and `logged()` appends CTEs
that compute the events from `changed`, move the counters those transitions imply, take the
event lock, insert the `job_events` rows and send one NOTIFY. One statement means one round
trip and no BEGIN/COMMIT; on two cores the client's CPU per round trip is what limits
throughput. Paths that need a decision in Python between statements (idempotency replays
with rate limits, DLQ retry) run as a transaction and end with `append_tail`.

Counters come from `conveyor.lifecycle` in both paths: `append_tail` computes them in Python
(`counter_deltas`), and `logged()` joins the events with `LIFECYCLE_DELTAS`, a VALUES table
generated from the same transitions, so the SQL cannot disagree with the table.

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

from conveyor.lifecycle import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    EventType,
    JobStatus,
    counter_deltas,
)
from conveyor.models import Job
from conveyor.store import rules
from conveyor.store.postgres.rows import json_text
from conveyor.store.rows import Row, dumps

Conn: TypeAlias = psycopg.AsyncConnection[dict[str, Any]]

EVENT_LOCK_KEY = 7165066986957399414
"""pg_advisory_xact_lock key that orders event inserts ("conveyev")."""

NOTIFY_CHANNEL = "conveyor_events"
"""Every event-writing transaction sends one NOTIFY here; the payload is its highest seq."""

WORK_CHANNEL = "conveyor_work"
"""A commit that may have made jobs leasable also notifies here: one that leaves a job
`pending` (new, retried, requeued after a failure, rescued, handed back) or ends a job of a
tenant with a `max_running` cap, and the job-freeing changes that write no event (a queue
resumed, tenant settings changed, reservations handed back or expired). Workers listen here
and not on `NOTIFY_CHANNEL`, so other workers' leases, heartbeats and acks do not wake them
(docs/scaling.md, "Fewer wake-ups"). The payload is the commit's highest seq, or empty."""

WAKE_WORKERS = f"SELECT pg_notify('{WORK_CHANNEL}', '')"
"""For the changes that free jobs without writing an event, after they commit."""

CANCEL_CHANNEL = "conveyor_cancel"
"""A requested cancellation of a running job is sent here too, its id as the payload, so the
worker holding it stops the handler without waiting for a heartbeat."""

COUNTER_SHARDS = 32
"""Counter rows per name. A transaction bumps the shard of its backend (pid % shards), so
concurrent producers on different connections do not queue on one hot row."""

EventRow: TypeAlias = tuple[
    Any, str, str, int, str, str, "str | None", "str | None", "str | None"
]
"""(job_id, type, status, attempt, tenant, task, worker, error, data JSON); `at` is now()."""


def _sql_text(value: str | None) -> str:
    return "NULL" if value is None else f"'{value}'"


LIFECYCLE_DELTAS = ",\n        ".join(
    f"({_sql_text(t.event.value)}, {_sql_text(None if source is None else source.value)},"
    f" {_sql_text(name)}, {delta})"
    for t in TRANSITIONS
    for source in t.sources
    for name, delta in counter_deltas([(t.event, source)]).items()
)
"""`(type, source, counter, delta)` rows: what each transition moves, from the lifecycle."""


_LEAVES_PENDING = f"bool_or(status = '{JobStatus.PENDING.value}')"
_ENDS = ", ".join(f"'{status.value}'" for status in sorted(TERMINAL_STATUSES))


def _wakes_workers(source: JobStatus | None) -> str:
    """When a `logged()` statement also notifies `WORK_CHANNEL` (over its `appended` rows):
    a job left pending, or, for jobs that were running or pending, one of a capped tenant
    ended (its slot under `max_running`, a running job's or a reserved one's, is free for
    the tenant's next job; a pending job that held none wakes them for nothing)."""
    if source not in rules.CAP_HOLDERS:
        return _LEAVES_PENDING
    return f"""{_LEAVES_PENDING}
                 OR (bool_or(status IN ({_ENDS}))
                     AND EXISTS (SELECT 1 FROM ev JOIN tenants AS t ON t.name = ev.tenant
                                  WHERE t.max_running IS NOT NULL))"""


def logged(
    changes: str, *, events: str, source: JobStatus | None, returning: str
) -> str:
    """One statement: `changes` (CTEs, the last named `changed`), then the events, their
    counters, the event lock, the event rows and one NOTIFY (two when it may have made jobs
    leasable: `WORK_CHANNEL`), in that order; it returns `returning` (columns of `changed`).

    `events` selects (job_id, type, status, attempt, tenant, task, worker, error, data) from
    `changed`; every job in it came from status `source` (None: it is new). Each later CTE
    reads the whole of the one before it, which is what orders the locks; data-modifying
    CTEs always run to the end.
    """
    source_sql = _sql_text(None if source is None else source.value)
    return f"""
WITH {changes},
ev AS (
    SELECT e.*, {source_sql}::text AS source
      FROM ({events}) AS e(job_id, type, status, attempt, tenant, task, worker, error, data)),
bumped AS (
    INSERT INTO counters AS c (name, shard, value)
    SELECT d.name, pg_backend_pid() %% {COUNTER_SHARDS}, sum(d.delta)
      FROM ev
      JOIN (VALUES
        {LIFECYCLE_DELTAS}) AS d(type, source, name, delta)
        ON d.type = ev.type AND d.source IS NOT DISTINCT FROM ev.source
     GROUP BY d.name
    HAVING sum(d.delta) <> 0
     ORDER BY d.name
        ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value
    RETURNING 1),
locked AS (
    SELECT pg_advisory_xact_lock({EVENT_LOCK_KEY}) AS held
      FROM (SELECT count(*) AS n FROM changed) AS c, (SELECT count(*) FROM bumped) AS b
     WHERE c.n > 0),
appended AS (
    INSERT INTO job_events (job_id, type, status, attempt, tenant, task, worker, error, data)
    SELECT ev.job_id, ev.type, ev.status, ev.attempt, ev.tenant, ev.task, ev.worker, ev.error,
           ev.data
      FROM ev, locked ORDER BY 1
    RETURNING seq, status),
notified AS (
    SELECT pg_notify('{NOTIFY_CHANNEL}', max(seq)::text) AS sent,
           CASE WHEN {_wakes_workers(source)}
                THEN pg_notify('{WORK_CHANNEL}', max(seq)::text) END AS woke
      FROM appended
    HAVING count(*) > 0)
SELECT {returning} FROM changed LEFT JOIN notified ON true
"""


# -- the end of a multi-statement transaction ---------------------------------------------------

BUMP = f"""
INSERT INTO counters AS c (name, shard, value)
SELECT name, pg_backend_pid() %% {COUNTER_SHARDS}, delta
  FROM unnest(%s::text[], %s::bigint[]) AS t(name, delta)
 ORDER BY name
    ON CONFLICT (name, shard) DO UPDATE SET value = c.value + excluded.value
"""

APPEND_EVENTS = f"""
WITH appended AS (
    INSERT INTO job_events (job_id, type, status, attempt, tenant, task, worker, error, data)
    SELECT job_id, type, status, attempt, tenant, task, worker, error, data::jsonb
      FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[],
                  %s::text[], %s::text[], %s::text[])
           AS e(job_id, type, status, attempt, tenant, task, worker, error, data)
    RETURNING seq)
SELECT pg_notify('{NOTIFY_CHANNEL}', max(seq)::text),
       CASE WHEN %s THEN pg_notify('{WORK_CHANNEL}', max(seq)::text) END
  FROM appended HAVING count(*) > 0
"""

COPY_ROWS = 64
"""From this many rows on, a batch's jobs (a keyless batch) and any transaction's events are
written with binary COPY rather than one INSERT of unnested arrays: a 1,000-job batch takes a
third less time (docs/scaling.md, "Batches"); below it, the extra round trips cost more than
they save (the two cost the same at 64)."""

COPY_EVENTS = """COPY job_events (job_id, type, status, attempt, tenant, task, worker, error,
                        data) FROM STDIN (FORMAT BINARY)"""
COPY_EVENT_TYPES = ["uuid", "text", "text", "int4", "text", "text", "text", "text", "jsonb"]

NOTIFY_LAST = f"""
SELECT pg_notify('{NOTIFY_CHANNEL}', last::text),
       CASE WHEN %s THEN pg_notify('{WORK_CHANNEL}', last::text) END
  FROM (SELECT max(seq) AS last FROM job_events) AS newest
"""
"""The NOTIFY after a COPY of events, under the event lock: no other writer's events can be
in flight, so the highest seq this transaction sees is its own last one (one descent of the
primary key; `currval` would need a grant on the sequence that inserting rows does not)."""


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


def created_event(job: Job) -> EventRow:
    """The `job_created` event of a job built without reading its row back."""
    return (job.id, _CREATED, _PENDING, job.attempts, job.tenant, job.task, None, None, None)


_CREATED = EventType.CREATED.value
_PENDING = JobStatus.PENDING.value


async def append_tail(
    conn: Conn, events: Sequence[tuple[EventRow, JobStatus | None]]
) -> None:
    """The last statements of a multi-statement transaction: the counters the events'
    transitions move, then (under the event lock) the events and one NOTIFY. Each event is
    given with the status its job came from. Nothing may lock rows after this."""
    bumps = counter_deltas((EventType(row[1]), source) for row, source in events)
    if bumps:
        await conn.execute(BUMP, (list(bumps), list(bumps.values())))
    if not events:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK_KEY,))
    rows = [row for row, _ in events]
    # These transactions end no running job (the worker's outcomes are `logged()`
    # statements), so only a job left pending wakes workers.
    wakes = any(row[2] == _PENDING for row in rows)
    if len(rows) < COPY_ROWS:
        await conn.execute(APPEND_EVENTS,
                           [*(list(column) for column in zip(*rows, strict=True)), wakes])
        return
    await copy_rows(conn, COPY_EVENTS, COPY_EVENT_TYPES,
                    [(*row[:8], json_text(row[8])) for row in rows])
    await conn.execute(NOTIFY_LAST, (wakes,))


async def copy_rows(conn: Conn, statement: str, types: Sequence[str],
                    rows: Sequence[Sequence[object]]) -> None:
    """Write `rows` with `statement`, a binary `COPY … FROM STDIN` whose columns have
    `types`. Through `conn.cursor()`, which the application's connections of
    `transactional.py` provide too."""
    async with conn.cursor().copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            await copy.write_row(row)
