"""What producers ask of the PostgreSQL store: submit (one job or a batch) and retry from
the DLQ.

Three submit paths. A batch of `COPY_ROWS` jobs or more without idempotency or unique keys
writes its jobs and events by binary COPY in one transaction (with the tokens, if limited),
and builds the jobs it returns from what it wrote. Otherwise, without a rate limit, a single
job or a batch without keys is one statement (`SUBMIT`, and `SUBMIT_ONE` for a job alone:
its columns as scalars, not arrays): insert, events, counters, NOTIFY.
With a rate limit, or a batch that carries keys, Python must decide between statements
(which are replays, is the bucket full), so it runs as a transaction: insert first (ON
CONFLICT DO NOTHING tells replays apart and settles races between concurrent submits of one
key), look up the replays, take tokens for the new jobs only, then write events and
counters. A refusal rolls the inserts back.

Unique keys ride on the same insert: its ON CONFLICT has no target, so a row whose unique key
a live job holds (the `jobs_unique` index on `unique_guard`) is skipped like a replay, and
that job is read back as the unique hit. Two processes inserting one key at once are settled
by the index (the second waits for the first's commit, then skips). A holder that gave the
key up between the insert and the read (it started, or finished) is not there to read: the
job is inserted again, a few times at most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.errors import IdempotencyConflict, JobNotFound, RateLimited, StoreUnavailable
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import (
    Job,
    JobId,
    NewJob,
    RateLimit,
    SubmitResult,
    new_job_id,
    new_job_ids,
)
from conveyor.store import rules
from conveyor.store import search as rules_of_search
from conveyor.store.driver import CancelBatch
from conveyor.store.postgres import search
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import (
    CANCEL_CHANNEL,
    COPY_ROWS,
    Conn,
    append_tail,
    copy_rows,
    created_event,
    event,
)
from conveyor.store.postgres.rows import READ, as_jsonb_returns, dumps, fetch, json_text


async def submit_many(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    keyless = rules.keyless(jobs)
    if keyless and len(jobs) >= COPY_ROWS:
        return await _submit_copied(conn, jobs, rate)
    if rate is None and (keyless or len(jobs) == 1):
        return await _submit_plain(conn, jobs)
    async with conn.transaction():
        return await _submit_in_transaction(conn, jobs, rate)


def _job_columns(
    jobs: Sequence[NewJob], ids: Sequence[JobId] | None = None
) -> tuple[list[JobId], list[list[object]]]:
    ids = [new_job_id() for _ in jobs] if ids is None else list(ids)
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
        [j.run_at for j in jobs],
        [None if j.timeout_sec is None else float(j.timeout_sec) for j in jobs],
        [j.unique_key for j in jobs],
        [None if j.unique_key is None else j.unique_while for j in jobs],
    ]
    return ids, columns


async def _submit_plain(conn: Conn, jobs: Sequence[NewJob]) -> list[SubmitResult]:
    """One statement in autocommit. Only for one job, or for jobs without keys: a replay
    found afterwards is read back, and a conflict raised then has nothing to undo (and a
    job inserted again after its holder left commits alone: there is no batch to split)."""
    _, _, outcomes = await _insert(conn, sql.SUBMIT, jobs, range(len(jobs)))
    return [_result(outcomes[index]) for index in range(len(jobs))]


async def _submit_copied(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """A big batch without keys, in one transaction: its jobs by COPY, the tokens, then
    their events. Nothing can conflict, so nothing is read back: each job is built from what
    was written (`rules.created_job`), the times from the transaction's `now()`."""
    async with conn.transaction():
        [row] = await fetch(conn, sql.NOW, None)
        now = row["now"]
        created: list[Job] = []
        rows: list[tuple[object, ...]] = []
        pending = JobStatus.PENDING.value
        for job_id, job in zip(new_job_ids(len(jobs)), jobs, strict=True):
            payload = dumps(dict(job.payload))
            new = rules.created_job(job_id, job, as_jsonb_returns(payload), now,
                                    rules.run_at(job, now))
            created.append(new)
            rows.append((new.id, new.tenant, new.queue, new.task, json_text(payload), pending,
                         new.priority, new.max_retries, new.run_at, now, new.trace_id,
                         new.timeout_sec))
        await copy_rows(conn, sql.COPY_JOBS, sql.COPY_JOB_TYPES, rows)
        if rate is not None:
            await _take_tokens(conn, rules.wanted_tokens(jobs), rate)
        await append_tail(conn, [(created_event(job), None) for job in created])
    return [SubmitResult(job, created=True) for job in created]


async def _existing(conn: Conn, job: NewJob) -> SubmitResult | None:
    """The job that made the insert of `job` skip its row: the replay of its idempotency key
    (`IdempotencyConflict` for another body), else the live holder of its unique key; None
    when neither is there any more (the holder gave the key up meanwhile)."""
    if job.idempotency_key is not None:
        cur = await conn.execute(sql.REPLAY, (job.tenant, job.idempotency_key))
        row = await cur.fetchone()
        if row is not None:
            rules.check_replay(row["request_hash"], job)
            return SubmitResult(READ.job(row), created=False)
    if job.unique_key is not None:
        cur = await conn.execute(sql.UNIQUE_HOLDER, (job.tenant, job.unique_key))
        row = await cur.fetchone()
        if row is not None:
            return SubmitResult(READ.job(row), created=False, unique_hit=True)
    return None


async def _submit_in_transaction(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    plan = rules.plan_batch(jobs)
    ids, inserted, outcomes = await _insert(conn, sql.INSERT_JOBS, jobs, plan.fresh)
    results = {index: _result(outcome) for index, outcome in outcomes.items()}
    if rate is not None:
        created_jobs = [jobs[i] for i, r in results.items() if r.created]
        await _take_tokens(conn, rules.wanted_tokens(created_jobs), rate)
    for index, first in plan.repeats.items():
        results[index] = SubmitResult(results[first].job, created=False)
    created = [inserted[job_id] for job_id in ids if job_id in inserted]
    await append_tail(conn, [(event(row, EventType.CREATED), None) for row in created])
    return [results[index] for index in range(len(jobs))]


async def submit_each(
    conn: Conn, jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[rules.SubmitOutcome]:
    """Separate submits in one commit (group commit), each decided as if it came alone: a
    refusal refuses that job only. Without a rate limit it is the one `SUBMIT` statement and
    the replays read back after it; with one, a transaction: insert, read the replays, take
    each tenant's tokens for as many of its new jobs as the bucket holds (in order), delete
    the rest again (before any event or counter names them), then events and counters."""
    plan = rules.plan_group(jobs)
    if rate is None:
        _, _, outcomes = await _insert(conn, sql.SUBMIT, jobs, plan.fresh)
        return rules.settle_repeats(jobs, plan, outcomes)
    async with conn.transaction():
        ids, inserted, outcomes = await _insert(conn, sql.INSERT_JOBS, jobs, plan.fresh)
        by_tenant: dict[str, list[int]] = {}
        for index in plan.fresh:
            outcome = outcomes[index]
            if isinstance(outcome, SubmitResult) and outcome.created:
                by_tenant.setdefault(jobs[index].tenant, []).append(index)
        refused: dict[JobId, RateLimited] = {}
        for tenant, indexes in sorted(by_tenant.items()):
            granted, left = await _take_up_to(conn, tenant, len(indexes), rate)
            for index in indexes[granted:]:
                refusal = rules.refusal(rate, tenant, left, 1)
                refused[outcomes[index].job.id] = refusal  # type: ignore[union-attr]
                outcomes[index] = refusal
        for index, outcome in outcomes.items():
            # A unique hit on a job of this group that was refused: alone, it would have
            # been a new job of the same tenant, after the refused one, so refused too.
            if isinstance(outcome, SubmitResult) and outcome.job.id in refused:
                outcomes[index] = refused[outcome.job.id]
        if refused:
            await conn.execute(sql.DELETE_JOBS, (list(refused),))
        await append_tail(conn, [(event(inserted[job_id], EventType.CREATED), None)
                                 for job_id in ids if job_id in inserted and job_id not in refused])
    return rules.settle_repeats(jobs, plan, outcomes)


async def _insert(
    conn: Conn, statement: str, jobs: Sequence[NewJob], indexes: Sequence[int]
) -> tuple[list[JobId], dict[JobId, Any], dict[int, rules.SubmitOutcome]]:
    """Insert `jobs[i]` for each of `indexes` with `statement` (`SUBMIT`, as `SUBMIT_ONE`
    when one job is left to insert, or `INSERT_JOBS`):
    the new ids, the inserted rows by id, and each job's outcome: created, or the replay of
    the job that already has its key (a conflict when that job's body differs)."""
    ids, columns = _job_columns([jobs[i] for i in indexes])
    id_of = dict(zip(indexes, ids, strict=True))
    inserted: dict[JobId, Any] = {}
    outcomes: dict[int, rules.SubmitOutcome] = {}
    todo = list(indexes)
    for _ in range(_INSERT_ROUNDS):
        # The one-statement path is the hot one: prepared, like the other hot statements;
        # a job alone (most submits) goes as scalars.
        one = statement is sql.SUBMIT and len(todo) == 1
        cur = await conn.execute(sql.SUBMIT_ONE if one else statement,
                                 [column[0] for column in columns] if one else columns,
                                 prepare=statement is sql.SUBMIT)
        inserted.update((row["id"], row) for row in await cur.fetchall())
        again: list[int] = []
        for index in todo:
            row = inserted.get(id_of[index])
            if row is not None:
                outcomes[index] = SubmitResult(READ.job(row), created=True)
                continue
            try:
                found = await _existing(conn, jobs[index])
            except IdempotencyConflict as conflict:
                outcomes[index] = conflict
                continue
            if found is None:
                again.append(index)  # what it collided with is gone: insert it again
            else:
                outcomes[index] = found
        if not again:
            return ids, inserted, outcomes
        todo = again
        _, columns = _job_columns([jobs[i] for i in todo], [id_of[i] for i in todo])
    for index in todo:
        outcomes[index] = (IdempotencyConflict("a concurrent submit with this key did not "
                                               "complete; retry")
                           if jobs[index].unique_key is None else
                           StoreUnavailable("the job holding this unique key kept changing; "
                                            "submit again"))
    return ids, inserted, outcomes


_INSERT_ROUNDS = 3
"""Inserts of a job whose key's holder keeps vanishing between the insert and the read."""


def _result(outcome: rules.SubmitOutcome) -> SubmitResult:
    """A batch's job outcome, whose refusal refuses the whole batch."""
    if isinstance(outcome, SubmitResult):
        return outcome
    raise outcome


async def _take_up_to(
    conn: Conn, tenant: str, wanted: int, rate: RateLimit
) -> tuple[int, float]:
    """Take one token per job for as many of `wanted` jobs as the tenant's bucket holds: how
    many were granted, and the tokens left. Each grant is one atomic `TAKE_TOKENS`."""
    capacity = float(rate.per_minute)
    refill = capacity / 60.0
    params = {"capacity": capacity, "refill": refill, "tenants": [tenant]}
    asked = min(wanted, int(capacity))
    while asked > 0:
        cur = await conn.execute(sql.TAKE_TOKENS, {**params, "wanted": [float(asked)]})
        if await cur.fetchone() is not None:
            break
        asked = min(asked - 1, int(await _tokens_now(conn, tenant, rate)))
    left = await _tokens_now(conn, tenant, rate) if asked < wanted else 0.0
    return asked, left


async def _tokens_now(conn: Conn, tenant: str, rate: RateLimit) -> float:
    capacity = float(rate.per_minute)
    cur = await conn.execute(
        sql.TOKENS_NOW, {"capacity": capacity, "refill": capacity / 60.0, "tenant": tenant}
    )
    row = await cur.fetchone()
    return capacity if row is None else float(row["tokens"])


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
            available = await _tokens_now(conn, tenant, rate)
            raise rules.refusal(rate, tenant, available, wanted[tenant])


async def cancel(conn: Conn, job_id: JobId) -> Job:
    """Cancel a pending job, or ask a running one to stop (see `Store.cancel`). A job that
    moves between the two statements (leased, or retried) is tried again."""
    for _ in range(_CANCEL_ATTEMPTS):
        async with conn.transaction():
            for statement in (sql.CANCEL_PENDING, sql.REQUEST_CANCEL):
                cur = await conn.execute(statement, {"id": job_id}, prepare=False)
                row = await cur.fetchone()
                if row is not None:
                    if statement is sql.REQUEST_CANCEL:
                        await conn.execute("SELECT pg_notify(%s, %s)",
                                           (CANCEL_CHANNEL, str(job_id)))
                    return READ.job(row)
            cur = await conn.execute(sql.GET, (job_id,))
            current = await cur.fetchone()
        if current is None:
            raise JobNotFound()
        rules.check_cancellable(current["status"])
        if current["status"] == JobStatus.RUNNING.value and current["cancel_requested_at"]:
            return READ.job(current)  # asked before: nothing changes
    raise StoreUnavailable("the job kept changing status; try the cancel again")


_CANCEL_ATTEMPTS = 5

NOT_ASKED = "cancel_requested_at IS NULL"
CANCELLABLE = (f"status IN ('{JobStatus.PENDING.value}', '{JobStatus.RUNNING.value}') "
               f"AND {NOT_ASKED}")


async def cancel_matching(conn: Conn, filter: rules_of_search.JobFilter, limit: int,
                          after: JobId | None, actor: str | None) -> CancelBatch:
    """With a `limit` of 0, count the live jobs `filter` matches (not yet asked to stop);
    otherwise lock up to `limit` of them after `after`, in id order, and cancel them: the
    pending ones at once, the running ones on request (their workers are told by NOTIFY),
    in one transaction with their events."""
    live = rules_of_search.LIVE_STATUSES
    if limit <= 0:
        matched, exact, as_of = await search.count_matches(
            conn, rules_of_search.parts(filter.status, live), rules_of_search.conditions(filter),
            NOT_ASKED)
        return CancelBatch(matched, [], [], 0, after, as_of, exact)
    data = dumps(rules.bulk_cancel_data(filter.describe(), actor))
    async with conn.transaction():
        scanned = await search.common_texts(conn, rules_of_search.conditions(filter))
        recheck = CANCELLABLE if filter.status is None else (
            f"status = '{JobStatus(filter.status).value}' AND {NOT_ASKED}")
        cur = await conn.execute(search.pick(filter, after, limit, recheck, NOT_ASKED,
                                             statuses=live, scanned=scanned), prepare=False)
        ids = [row["id"] for row in await cur.fetchall()]
        if not ids:
            return CancelBatch(0, [], [], 0, after)
        cancelled = await conn.execute(sql.CANCEL_PENDING_MATCHED, {"ids": ids, "data": data})
        done = [row["id"] for row in await cancelled.fetchall()]
        requested = await conn.execute(sql.REQUEST_CANCEL_MATCHED, {"ids": ids, "data": data})
        asked = [row["id"] for row in await requested.fetchall()]
        if asked:
            await conn.execute(sql.NOTIFY_CANCELS, (CANCEL_CHANNEL, asked))
    return CancelBatch(0, done, asked, len(ids), ids[-1])


async def retry(conn: Conn, job_id: JobId, trace_id: str | None) -> Job:
    """Copy a failed job into a new pending one, linked both ways (in one transaction)."""
    async with conn.transaction():
        cur = await conn.execute(sql.GET_FOR_UPDATE, (job_id,))
        old = await cur.fetchone()
        if old is None:
            raise JobNotFound()
        rules.check_retryable(old["status"], old["retried_by"], old["payload"])
        new_id = new_job_id()
        cur = await conn.execute(sql.RETRY_INSERT, (new_id, trace_id, True, job_id))
        new = await cur.fetchone()
        if new is None:  # a live job holds the unique key: the copy runs without holding it
            cur = await conn.execute(sql.RETRY_INSERT, (new_id, trace_id, False, job_id))
            new = await cur.fetchone()
        assert new is not None
        await conn.execute(sql.RETRY_LINK, (new_id, job_id))
        await append_tail(conn, [
            (event(new, EventType.CREATED, data={"retry_of": str(job_id)}), None),
            (event(old, EventType.RETRIED, data={"retried_by": str(new_id)}),
             JobStatus(old["status"])),
        ])
        return READ.job(new)
