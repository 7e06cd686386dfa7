"""What producers ask of the PostgreSQL store: submit (one job or a batch) and retry from
the DLQ.

Two submit paths. Without a rate limit, a single job or a batch without idempotency keys is
one statement (`SUBMIT`): insert, events, counters, NOTIFY. With a rate limit, or a batch that
carries keys, Python must decide between statements (which are replays, is the bucket full),
so it runs as a transaction: insert first (ON CONFLICT DO NOTHING tells replays apart and
settles races between concurrent submits of one key), look up the replays, take tokens for
the new jobs only, then write events and counters. A refusal rolls the inserts back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from conveyor.errors import IdempotencyConflict, JobNotFound
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Job, JobId, NewJob, RateLimit, SubmitResult, new_job_id
from conveyor.store import rules
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn, append_tail, event
from conveyor.store.postgres.rows import READ, dumps


async def submit_many(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    if rate is None and (len(jobs) == 1 or all(job.idempotency_key is None for job in jobs)):
        return await _submit_plain(conn, jobs)
    async with conn.transaction():
        return await _submit_in_transaction(conn, jobs, rate)


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


async def _submit_plain(conn: Conn, jobs: Sequence[NewJob]) -> list[SubmitResult]:
    """One statement in autocommit. Only for one job, or for jobs without keys: a replay
    found afterwards is read back, and a conflict raised then has nothing to undo."""
    ids, columns = _job_columns(jobs)
    cur = await conn.execute(sql.SUBMIT, columns, prepare=True)
    inserted = {row["id"]: row for row in await cur.fetchall()}
    results: list[SubmitResult] = []
    for job, job_id in zip(jobs, ids, strict=True):
        row = inserted.get(job_id)
        if row is not None:
            results.append(SubmitResult(READ.job(row), created=True))
        else:
            results.append(await _replay(conn, job))
    return results


async def _replay(conn: Conn, job: NewJob) -> SubmitResult:
    cur = await conn.execute(sql.REPLAY, (job.tenant, job.idempotency_key))
    row = await cur.fetchone()
    if row is None:  # the conflicting submit was rolled back meanwhile: extremely rare
        raise IdempotencyConflict("a concurrent submit with this key did not complete; retry")
    rules.check_replay(row["request_hash"], job)
    return SubmitResult(READ.job(row), created=False)


async def _submit_in_transaction(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    plan = rules.plan_batch(jobs)
    ids, columns = _job_columns([jobs[i] for i in plan.fresh])
    cur = await conn.execute(sql.INSERT_JOBS, columns)
    inserted = {row["id"]: row for row in await cur.fetchall()}
    results: dict[int, SubmitResult] = {}
    for index, job_id in zip(plan.fresh, ids, strict=True):
        row = inserted.get(job_id)
        if row is None:
            results[index] = await _replay(conn, jobs[index])
        else:
            results[index] = SubmitResult(READ.job(row), created=True)
    if rate is not None:
        created_jobs = [jobs[i] for i, r in results.items() if r.created]
        await _take_tokens(conn, rules.wanted_tokens(created_jobs), rate)
    for index, first in plan.repeats.items():
        results[index] = SubmitResult(results[first].job, created=False)
    created = [inserted[job_id] for job_id in ids if job_id in inserted]
    await append_tail(conn, [(event(row, EventType.CREATED), None) for row in created])
    return [results[index] for index in range(len(jobs))]


async def _take_tokens(conn: Conn, wanted: Mapping[str, int], rate: RateLimit) -> None:
    """Spend `wanted[tenant]` tokens per tenant, all or none; raise `RateLimited` if short.
    The refill and the decision run in SQL (one atomic statement per batch); the refusal's
    Retry-After is the rule book's, from the bucket as it is now."""
    capacity = float(rate.per_minute)
    refill = capacity / 60.0
    for tenant, count in sorted(wanted.items()):
        if count > capacity:  # TAKE_TOKENS would grant it to a tenant without a bucket yet
            raise rules.refusal(rate, tenant, capacity, count)
    tenants = sorted(t for t, count in wanted.items() if count)
    if not tenants:
        return
    cur = await conn.execute(
        sql.TAKE_TOKENS,
        {"capacity": capacity, "refill": refill, "tenants": tenants,
         "wanted": [float(wanted[t]) for t in tenants]},
    )
    granted = {row["tenant"] for row in await cur.fetchall()}
    for tenant in tenants:
        if tenant not in granted:
            cur = await conn.execute(
                sql.TOKENS_NOW, {"capacity": capacity, "refill": refill, "tenant": tenant}
            )
            row = await cur.fetchone()
            available = capacity if row is None else float(row["tokens"])
            raise rules.refusal(rate, tenant, available, wanted[tenant])


async def retry(conn: Conn, job_id: JobId, trace_id: str | None) -> Job:
    """Copy a failed job into a new pending one, linked both ways (in one transaction)."""
    async with conn.transaction():
        cur = await conn.execute(sql.GET_FOR_UPDATE, (job_id,))
        old = await cur.fetchone()
        if old is None:
            raise JobNotFound()
        rules.check_retryable(old["status"], old["retried_by"], old["payload"])
        new_id = new_job_id()
        cur = await conn.execute(sql.RETRY_INSERT, (new_id, trace_id, job_id))
        new = await cur.fetchone()
        assert new is not None
        await conn.execute(sql.RETRY_LINK, (new_id, job_id))
        await append_tail(conn, [
            (event(new, EventType.CREATED, data={"retry_of": str(job_id)}), None),
            (event(old, EventType.RETRIED, data={"retried_by": str(new_id)}), JobStatus.FAILED),
        ])
        return READ.job(new)
