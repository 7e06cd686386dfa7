"""The PostgreSQL driver's write transactions, one function per `Store` method.

Each function runs inside one transaction opened by `PostgresStore._write` (in pipeline mode,
so statements whose results are not needed yet travel together) and ends with `append_tail`,
which writes the counters, then the `job_events` rows and one NOTIFY.

Lock order, the same in every transaction so that they cannot deadlock one another:
jobs rows → rate_limits rows → counters rows → the event lock. Jobs rows touched by a batch
are visited in id order where the plan allows it; a deadlock that still happens (e.g. a
heartbeat racing a finish of the same leases in another order) is retried by `_write`.

Ordering events: `seq` comes from a sequence, and sequence values are handed out when a row is
inserted, not when its transaction commits. Without care, a transaction could take seq 10,
another take 11 and commit first; a reader of `events_after(9)` would see 11, move its cursor
there and never see 10. Every event-writing transaction therefore takes
`pg_advisory_xact_lock(EVENT_LOCK_KEY)` right before inserting its events, as its last step
before COMMIT, and holds it until the commit is visible. Seq order is commit order, so a
reader never sees a gap that is later filled (gaps from rolled-back transactions stay gaps).
The price is that the event insert and the commit of writers are serialized; everything else
(the jobs updates, the leasing) runs in parallel, and batching (lease n, finish n) amortizes
it. PostgreSQL serializes the commits of notifying transactions anyway (the NOTIFY queue lock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias
from uuid import UUID

import psycopg

from conveyor.errors import IdempotencyConflict, InvalidTransition, JobNotFound, RateLimited
from conveyor.models import (
    Ack,
    EventType,
    Job,
    JobId,
    JobStatus,
    Lease,
    NewJob,
    Outcome,
    RateLimit,
    SubmitResult,
    new_job_id,
)
from conveyor.store.postgres_rows import Row, dumps, job_from_row, lease_from_row

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

_BUMP = """
INSERT INTO counters AS c (name, shard, value)
SELECT name, pg_backend_pid() %% %(shards)s, delta
  FROM unnest(%(names)s::text[], %(deltas)s::bigint[]) AS t(name, delta)
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
SELECT pg_notify('{NOTIFY_CHANNEL}', max(seq)::text) FROM appended
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
    """Queue the last statements of a transaction: counters, then the ordered events.

    Must come after every other lock the transaction takes (see the module docstring); the
    statements are pipelined with the COMMIT, so the event lock is held for one round trip.
    """
    bumps = sorted((name, delta) for name, delta in (counters or {}).items() if delta)
    if bumps:
        await conn.execute(
            _BUMP,
            {
                "shards": COUNTER_SHARDS,
                "names": [n for n, _ in bumps],
                "deltas": [d for _, d in bumps],
            },
        )
    if events:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK_KEY,))
        await conn.execute(_APPEND_EVENTS, [list(column) for column in zip(*events, strict=True)])


# -- producers ----------------------------------------------------------------------------------

_INSERT_JOBS = """
INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries, run_at,
                  created_at, idempotency_key, request_hash, trace_id)
SELECT id, tenant, queue, task, payload::jsonb, 'pending', priority, max_retries,
       now() + make_interval(secs => delay), now(), key, hash, trace
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[],
              %s::float8[], %s::text[], %s::text[], %s::text[])
       AS t(id, tenant, queue, task, payload, priority, max_retries, delay, key, hash, trace)
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *
"""

# One atomic statement per batch: refill by elapsed database time, take `wanted` tokens, or
# leave the row alone (and return nothing for that tenant) when the bucket is short.
_TAKE_TOKENS = """
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

_TOKENS_NOW = """
SELECT least(%(capacity)s, tokens + greatest(0, extract(epoch FROM now() - updated_at)::float8) * %(refill)s) AS tokens
  FROM rate_limits WHERE tenant = %(tenant)s
"""  # noqa: E501


def _rate_limited(tenant: str, rate: RateLimit, retry_after: float) -> RateLimited:
    return RateLimited(
        retry_after, f"tenant {tenant!r} may submit {rate.per_minute} jobs per minute"
    )


async def _take_tokens(conn: Conn, wanted: Mapping[str, int], rate: RateLimit) -> None:
    """Spend `wanted[tenant]` tokens per tenant, all or none; raise `RateLimited` if short."""
    capacity = float(rate.per_minute)
    refill = capacity / 60.0
    for tenant, count in sorted(wanted.items()):
        if count > capacity:
            raise _rate_limited(tenant, rate, 60.0)
    tenants = sorted(t for t, count in wanted.items() if count)
    if not tenants:
        return
    cur = await conn.execute(
        _TAKE_TOKENS,
        {
            "capacity": capacity,
            "refill": refill,
            "tenants": tenants,
            "wanted": [float(wanted[t]) for t in tenants],
        },
    )
    granted = {row["tenant"] for row in await cur.fetchall()}
    for tenant in tenants:
        if tenant not in granted:
            cur = await conn.execute(
                _TOKENS_NOW, {"capacity": capacity, "refill": refill, "tenant": tenant}
            )
            row = await cur.fetchone()
            tokens = capacity if row is None else float(row["tokens"])
            raise _rate_limited(tenant, rate, max(0.0, (wanted[tenant] - tokens) / refill))


async def submit_all(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """Insert new jobs, answer replays from the existing rows, spend tokens only for new ones.

    Inserting first (ON CONFLICT DO NOTHING) tells replays apart without a separate lookup
    and settles races between concurrent submits of one key; a rate limit raised afterwards
    rolls the inserts back.
    """
    first_by_key: dict[tuple[str, str], int] = {}
    fresh: list[int] = []
    for index, job in enumerate(jobs):
        if job.idempotency_key is not None:
            key = (job.tenant, job.idempotency_key)
            if key in first_by_key:  # the same key twice in one batch: the first one wins
                if jobs[first_by_key[key]].request_hash != job.request_hash:
                    raise IdempotencyConflict()
                continue
            first_by_key[key] = index
        fresh.append(index)
    ids = [new_job_id() for _ in fresh]
    picked = [jobs[i] for i in fresh]
    cur = await conn.execute(
        _INSERT_JOBS,
        [
            ids,
            [j.tenant for j in picked],
            [j.queue for j in picked],
            [j.task for j in picked],
            [dumps(dict(j.payload)) for j in picked],
            [j.priority for j in picked],
            [j.max_retries for j in picked],
            [max(0.0, j.delay_sec) for j in picked],
            [j.idempotency_key for j in picked],
            [j.request_hash for j in picked],
            [j.trace_id for j in picked],
        ],
    )
    inserted = {row["id"]: row for row in await cur.fetchall()}
    by_index: dict[int, SubmitResult] = {}
    replays: list[int] = []
    for index, job_id in zip(fresh, ids, strict=True):
        row = inserted.get(job_id)
        if row is None:
            replays.append(index)
        else:
            by_index[index] = SubmitResult(job_from_row(row), created=True)
    if replays:
        await _answer_replays(conn, jobs, replays, by_index)
    if rate is not None and rate.per_minute > 0:
        wanted: dict[str, int] = {}
        for row in inserted.values():
            wanted[row["tenant"]] = wanted.get(row["tenant"], 0) + 1
        await _take_tokens(conn, wanted, rate)
    results: list[SubmitResult] = []
    for index, job in enumerate(jobs):
        if index not in by_index:  # an in-batch duplicate: the first occurrence's job
            assert job.idempotency_key is not None
            first = by_index[first_by_key[(job.tenant, job.idempotency_key)]]
            by_index[index] = SubmitResult(first.job, created=False)
        results.append(by_index[index])
    created = [inserted[job_id] for job_id in ids if job_id in inserted]
    await append_tail(
        conn,
        [event(row, EventType.CREATED) for row in created],
        {"jobs_submitted": len(created)},
    )
    return results


async def _answer_replays(
    conn: Conn, jobs: Sequence[NewJob], replays: list[int], by_index: dict[int, SubmitResult]
) -> None:
    cur = await conn.execute(
        "SELECT * FROM jobs WHERE (tenant, idempotency_key) IN"
        " (SELECT * FROM unnest(%s::text[], %s::text[]))",
        [[jobs[i].tenant for i in replays], [jobs[i].idempotency_key for i in replays]],
    )
    existing = {(row["tenant"], row["idempotency_key"]): row for row in await cur.fetchall()}
    for index in replays:
        job = jobs[index]
        row = existing[(job.tenant, job.idempotency_key)]
        if row["request_hash"] != job.request_hash:
            raise IdempotencyConflict()
        by_index[index] = SubmitResult(job_from_row(row), created=False)


async def retry(conn: Conn, job_id: JobId, trace_id: str | None) -> Job:
    cur = await conn.execute("SELECT * FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    old = await cur.fetchone()
    if old is None:
        raise JobNotFound()
    if old["status"] != JobStatus.FAILED.value:
        raise InvalidTransition(f"only failed jobs can be retried; this one is {old['status']}")
    if old["retried_by"] is not None:
        raise InvalidTransition(f"this job was already retried as {old['retried_by']}")
    new_id = new_job_id()
    cur = await conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries,"
        " run_at, created_at, retry_of, trace_id)"
        " SELECT %s, tenant, queue, task, payload, 'pending', priority, max_retries, now(),"
        " now(), id, coalesce(%s, trace_id) FROM jobs WHERE id = %s RETURNING *",
        (new_id, trace_id, job_id),
    )
    new = await cur.fetchone()
    assert new is not None
    await conn.execute("UPDATE jobs SET retried_by = %s WHERE id = %s", (new_id, job_id))
    await append_tail(
        conn,
        [
            event(new, EventType.CREATED, data={"retry_of": str(job_id)}),
            event(old, EventType.RETRIED, data={"retried_by": str(new_id)}),
        ],
        {"jobs_submitted": 1},
    )
    return job_from_row(new)


# -- workers ------------------------------------------------------------------------------------

# MATERIALIZED keeps the planner from inlining the LIMIT subquery into the UPDATE (and running
# it more than once); SKIP LOCKED lets concurrent workers take disjoint batches without waiting.
_LEASE = """
WITH picked AS MATERIALIZED (
    SELECT id FROM jobs
     WHERE status = 'pending' AND run_at <= now() AND queue = ANY(%(queues)s::text[])
     ORDER BY priority DESC, run_at, id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED)
UPDATE jobs AS j
   SET status = 'running', attempts = j.attempts + 1, lease_owner = %(worker)s,
       lease_token = gen_random_uuid(), started_at = now(),
       lease_expires_at = now() + make_interval(secs => %(lease_for)s)
  FROM picked
 WHERE j.id = picked.id
RETURNING j.*, extract(epoch FROM now() - j.run_at)::float8 AS waited
"""


async def lease(
    conn: Conn, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
) -> list[Lease]:
    cur = await conn.execute(
        _LEASE,
        {
            "queues": list(queues),
            "limit": limit,
            "worker": worker,
            "lease_for": float(lease_for_sec),
        },
    )
    rows = await cur.fetchall()
    await append_tail(
        conn,
        [
            event(
                row,
                EventType.LEASED,
                worker=worker,
                data={"wait": round(max(0.0, row["waited"]), 6)},
            )
            for row in rows
        ],
    )
    return sorted((lease_from_row(row) for row in rows), key=lambda lease: lease.job_id)


_FINISH = """
WITH o AS (
    SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::bool[], %s::text[], %s::text[],
                         %s::float8[], %s::bool[])
           AS o(id, token, ok, result, error, retry_in, permanent)
)
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
  FROM o
 WHERE j.id = o.id AND j.lease_token = o.token AND j.status = 'running'
RETURNING j.id, o.token, j.status, j.attempts, j.tenant, j.task, o.retry_in,
          extract(epoch FROM now() - coalesce(j.started_at, now()))::float8 AS runtime
"""


async def finish(conn: Conn, outcomes: Sequence[Outcome], worker: str) -> list[bool]:
    """All outcomes in one UPDATE … FROM unnest(…); one event insert; one NOTIFY."""
    seen: set[tuple[UUID, UUID]] = set()
    batch: list[Outcome] = []
    for outcome in outcomes:  # a lease listed twice is applied once, like two calls would be
        key = (outcome.lease.job_id, outcome.lease.token)
        if key not in seen:
            seen.add(key)
            batch.append(outcome)
    batch.sort(key=lambda outcome: outcome.lease.job_id)
    columns: list[list[Any]] = [[], [], [], [], [], [], []]
    for outcome in batch:
        ok = isinstance(outcome, Ack)
        row_values = (
            outcome.lease.job_id,
            outcome.lease.token,
            ok,
            dumps(outcome.result) if isinstance(outcome, Ack) else None,
            None if isinstance(outcome, Ack) else outcome.error,
            0.0 if isinstance(outcome, Ack) else max(0.0, outcome.retry_in_sec),
            False if isinstance(outcome, Ack) else outcome.permanent,
        )
        for column, value in zip(columns, row_values, strict=True):
            column.append(value)
    cur = await conn.execute(_FINISH, columns)
    rows = {(row["id"], row["token"]): row for row in await cur.fetchall()}
    events: list[EventRow] = []
    counters = {"done": 0, "failed": 0, "retries": 0}
    for outcome in batch:
        row = rows.get((outcome.lease.job_id, outcome.lease.token))
        if row is None:
            continue
        data: dict[str, float] = {"runtime": round(max(0.0, row["runtime"]), 6)}
        if row["status"] == JobStatus.DONE.value:
            event_type = EventType.SUCCEEDED
            counters["done"] += 1
        elif row["status"] == JobStatus.PENDING.value:
            event_type = EventType.RETRY_SCHEDULED
            counters["retries"] += 1
            data["retry_in"] = round(row["retry_in"], 3)
        else:
            event_type = EventType.FAILED
            counters["failed"] += 1
        error = None if isinstance(outcome, Ack) else outcome.error
        events.append(event(row, event_type, worker=worker, error=error, data=data))
    await append_tail(conn, events, counters)
    applied: list[bool] = []
    used: set[tuple[UUID, UUID]] = set()
    for outcome in outcomes:
        key = (outcome.lease.job_id, outcome.lease.token)
        applied.append(key not in used and key in rows)
        used.add(key)
    return applied


_RELEASE = """
UPDATE jobs AS j
   SET status = 'pending', attempts = greatest(0, j.attempts - 1),
       lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
  FROM unnest(%s::uuid[], %s::uuid[]) AS l(id, token)
 WHERE j.id = l.id AND j.lease_token = l.token AND j.status = 'running'
RETURNING j.id, j.status, j.attempts, j.tenant, j.task
"""


async def release(conn: Conn, leases: Sequence[Lease]) -> None:
    ordered = sorted(leases, key=lambda lease: lease.job_id)
    cur = await conn.execute(
        _RELEASE, [[lease.job_id for lease in ordered], [lease.token for lease in ordered]]
    )
    rows = sorted(await cur.fetchall(), key=lambda row: row["id"])
    await append_tail(conn, [event(row, EventType.RELEASED) for row in rows])


# SKIP LOCKED: a job whose row is locked is being finished or heartbeated right now; the
# rescuer never waits for (or deadlocks with) a live worker.
_RESCUE = """
WITH expired AS MATERIALIZED (
    SELECT id, lease_owner FROM jobs
     WHERE status = 'running' AND lease_expires_at < now()
     ORDER BY lease_expires_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED)
UPDATE jobs AS j
   SET status = CASE WHEN j.attempts > j.max_retries THEN 'failed' ELSE 'pending' END,
       finished_at = CASE WHEN j.attempts > j.max_retries THEN now() END,
       run_at = CASE WHEN j.attempts > j.max_retries THEN j.run_at ELSE now() END,
       last_error = 'lease expired: worker ' || coalesce(e.lease_owner, 'None')
                    || ' stopped renewing it',
       lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
  FROM expired AS e
 WHERE j.id = e.id
RETURNING j.id, j.status, j.attempts, j.tenant, j.task, j.last_error, e.lease_owner
"""


async def rescue(conn: Conn) -> list[JobId]:
    cur = await conn.execute(_RESCUE, {"limit": RESCUE_BATCH})
    rows = sorted(await cur.fetchall(), key=lambda row: row["id"])
    dead = sum(1 for row in rows if row["status"] == JobStatus.FAILED.value)
    await append_tail(
        conn,
        [
            event(
                row,
                EventType.FAILED if row["status"] == "failed" else EventType.LEASE_EXPIRED,
                worker=row["lease_owner"],
                error=row["last_error"],
            )
            for row in rows
        ],
        {"failed": dead, "retries": len(rows) - dead},
    )
    return [row["id"] for row in rows]
