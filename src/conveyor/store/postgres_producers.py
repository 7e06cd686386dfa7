"""Submitting jobs and retrying dead ones on PostgreSQL.

Two paths. Without a rate limit, a single job or a batch without idempotency keys is one
statement (`SUBMIT`): insert, events, counters, NOTIFY. With a rate limit, or a batch that
carries keys, Python must decide between statements (which are replays, is the bucket full),
so it runs as a transaction: insert first (ON CONFLICT DO NOTHING tells replays apart and
settles races between concurrent submits of one key), look up the replays, take tokens for
the new jobs only, then write events and counters. A refusal rolls the inserts back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from conveyor.errors import IdempotencyConflict, InvalidTransition, JobNotFound, RateLimited
from conveyor.models import (
    EventType,
    Job,
    JobId,
    JobStatus,
    NewJob,
    RateLimit,
    SubmitResult,
    new_job_id,
)
from conveyor.payloads import check_json
from conveyor.store.postgres_rows import JOB_COLUMNS, Row, dumps, job_from_row
from conveyor.store.postgres_sql import (
    INSERT_JOBS,
    SUBMIT,
    TAKE_TOKENS,
    TOKENS_NOW,
    Conn,
    append_tail,
    event,
)


def needs_transaction(jobs: Sequence[NewJob], rate: RateLimit | None) -> bool:
    """False when `submit_plain` can do it in one statement."""
    if rate is not None and rate.per_minute > 0:
        return True
    return len(jobs) > 1 and any(job.idempotency_key is not None for job in jobs)


def _job_columns(jobs: Sequence[NewJob]) -> tuple[list[JobId], list[list[object]]]:
    ids = [new_job_id() for _ in jobs]
    columns: list[list[object]] = [
        list(ids),
        [j.tenant for j in jobs],
        [j.queue for j in jobs],
        [j.task for j in jobs],
        [dumps(dict(j.payload)) for j in jobs],
        [int(j.priority) for j in jobs],
        [int(j.max_retries) for j in jobs],
        [max(0.0, float(j.delay_sec)) for j in jobs],
        [j.idempotency_key for j in jobs],
        [j.request_hash for j in jobs],
        [j.trace_id for j in jobs],
    ]
    return ids, columns


async def submit_plain(conn: Conn, jobs: Sequence[NewJob]) -> list[SubmitResult]:
    """One statement in autocommit. Only for one job, or for jobs without keys: a replay
    found afterwards is read back, and a conflict raised then has nothing to undo."""
    ids, columns = _job_columns(jobs)
    cur = await conn.execute(SUBMIT, columns, prepare=True)
    inserted = {row["id"]: row for row in await cur.fetchall()}
    results: list[SubmitResult] = []
    for job, job_id in zip(jobs, ids, strict=True):
        row = inserted.get(job_id)
        if row is not None:
            results.append(SubmitResult(job_from_row(row), created=True))
        else:
            results.append(await _replay(conn, job))
    return results


async def _replay(conn: Conn, job: NewJob) -> SubmitResult:
    cur = await conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = %s AND idempotency_key = %s",
        (job.tenant, job.idempotency_key),
    )
    row = await cur.fetchone()
    if row is None:  # the conflicting submit was rolled back meanwhile: extremely rare
        raise IdempotencyConflict("a concurrent submit with this key did not complete; retry")
    if row["request_hash"] != job.request_hash:
        raise IdempotencyConflict()
    return SubmitResult(job_from_row(row), created=False)


async def submit_in_transaction(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """The general path; runs inside the transaction `PostgresStore._write` opened."""
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
    ids, columns = _job_columns([jobs[i] for i in fresh])
    cur = await conn.execute(INSERT_JOBS, columns)
    inserted = {row["id"]: row for row in await cur.fetchall()}
    by_index: dict[int, SubmitResult] = {}
    for index, job_id in zip(fresh, ids, strict=True):
        row = inserted.get(job_id)
        if row is None:
            by_index[index] = await _replay(conn, jobs[index])
        else:
            by_index[index] = SubmitResult(job_from_row(row), created=True)
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
    created: list[Row] = [inserted[job_id] for job_id in ids if job_id in inserted]
    await append_tail(
        conn,
        [event(row, EventType.CREATED) for row in created],
        {"jobs_submitted": len(created)},
    )
    return results


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
        TAKE_TOKENS,
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
                TOKENS_NOW, {"capacity": capacity, "refill": refill, "tenant": tenant}
            )
            row = await cur.fetchone()
            tokens = capacity if row is None else float(row["tokens"])
            raise _rate_limited(tenant, rate, max(0.0, (wanted[tenant] - tokens) / refill))


async def retry(conn: Conn, job_id: JobId, trace_id: str | None) -> Job:
    """Copy a failed job into a new pending one, linked both ways (in one transaction)."""
    cur = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    old = await cur.fetchone()
    if old is None:
        raise JobNotFound()
    if old["status"] != JobStatus.FAILED.value:
        raise InvalidTransition(f"only failed jobs can be retried; this one is {old['status']}")
    if old["retried_by"] is not None:
        raise InvalidTransition(f"this job was already retried as {old['retried_by']}")
    check_json(old["payload"], "the stored payload")  # a row from before the limits
    new_id = new_job_id()
    cur = await conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, max_retries,"
        " run_at, created_at, retry_of, trace_id)"
        " SELECT %s, tenant, queue, task, payload, 'pending', priority, max_retries, now(),"
        " now(), id, coalesce(%s, trace_id) FROM jobs WHERE id = %s"
        f" RETURNING {JOB_COLUMNS}",
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
