"""What producers ask of the SQLite store: submit (a batch, or separate submits grouped into
one commit) and retry from the DLQ.

Each function runs inside one `BEGIN IMMEDIATE` transaction on the store's writer thread and
receives the store's clock as `now` (epoch seconds). In `submit_many` a refusal (conflict,
rate limit) raises and rolls everything back; `submit_each` returns each job's own.

A unique submit looks for the live job holding its key before it inserts (the single writer
makes the look and the insert one step for every process; the `jobs_unique` index would
refuse a second holder all the same).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from conveyor.errors import IdempotencyConflict, JobNotFound, RateLimited
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Job, JobId, NewJob, RateLimit, SubmitResult, new_job_id, new_job_ids
from conveyor.store import rules
from conveyor.store import search as rules_of_search
from conveyor.store.driver import CancelBatch
from conveyor.store.search import JobFilter
from conveyor.store.sqlite import search
from conveyor.store.sqlite.events import Change, append
from conveyor.store.sqlite.rows import JOB_COLUMNS, READ, dumps


def _take_tokens(
    conn: sqlite3.Connection, now: float, tenant: str, wanted: int, rate: RateLimit
) -> None:
    """Spend `wanted` of the tenant's tokens, or raise `RateLimited` (nothing spent)."""
    row = conn.execute(
        "SELECT tokens, updated_at FROM rate_limits WHERE tenant = ?", (tenant,)
    ).fetchone()
    available = rules.bucket_now(
        rate,
        None if row is None else row["tokens"],
        0.0 if row is None else now - row["updated_at"],
    )
    refusal = rules.rate_limited(rate, tenant, available, wanted)
    if refusal is not None:
        raise refusal
    conn.execute(
        "INSERT INTO rate_limits (tenant, tokens, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (tenant) DO UPDATE SET tokens = excluded.tokens,"
        " updated_at = excluded.updated_at",
        (tenant, available - wanted, now),
    )


def _take_batch_tokens(
    conn: sqlite3.Connection, now: float, new: list[NewJob], rate: RateLimit | None
) -> None:
    """A batch's tokens, one per new job, tenant by tenant (a refusal rolls the batch back)."""
    if rate is not None:
        for tenant, wanted in sorted(rules.wanted_tokens(new).items()):
            _take_tokens(conn, now, tenant, wanted, rate)


def submit_many(
    conn: sqlite3.Connection, now: float, jobs: list[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    if rules.keyless(jobs):
        return _submit_keyless(conn, now, jobs, rate)
    plan = rules.plan_batch(jobs)
    results: dict[int, SubmitResult] = {}
    fresh: list[int] = []
    holders: dict[tuple[str, str], int] = {}  # a unique key → the job of the batch taking it
    hits: dict[int, int] = {}
    for index in plan.fresh:
        job = jobs[index]
        found = _replay(conn, job) or _unique_hit(conn, job)
        if found is not None:
            results[index] = found
        elif job.unique_key is not None and (job.tenant, job.unique_key) in holders:
            hits[index] = holders[(job.tenant, job.unique_key)]
        else:
            if job.unique_key is not None:
                holders[(job.tenant, job.unique_key)] = index
            fresh.append(index)
    _take_batch_tokens(conn, now, [jobs[i] for i in fresh], rate)
    changes: list[Change] = []
    for index in fresh:
        results[index] = _insert(conn, now, jobs[index], changes)
    for index, holder in hits.items():  # as the second of two submits in a row
        results[index] = SubmitResult(results[holder].job, created=False, unique_hit=True)
    for index, first in plan.repeats.items():
        results[index] = SubmitResult(results[first].job, created=False)
    append(conn, now, changes)
    return [results[index] for index in range(len(jobs))]


def _submit_keyless(
    conn: sqlite3.Connection, now: float, jobs: list[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """A batch without idempotency or unique keys: nothing in it can meet a stored job, so
    its rows go in with one `executemany` and the jobs it returns are built from what was
    written (`rules.created_job`) instead of read back."""
    _take_batch_tokens(conn, now, jobs, rate)
    created_at = READ.time(now)
    created: list[Job] = []
    rows: list[tuple[object, ...]] = []
    changes: list[Change] = []
    pending = JobStatus.PENDING.value
    for job_id, job in zip(new_job_ids(len(jobs)), jobs, strict=True):
        payload = dumps(dict(job.payload))
        run_at = rules.run_at(job, created_at).timestamp()
        new = rules.created_job(job_id, job, READ.json(payload), created_at, READ.time(run_at))
        created.append(new)
        text_id = str(job_id)
        rows.append((text_id, new.tenant, new.queue, new.task, payload, new.priority,
                     new.max_retries, run_at, now, new.trace_id, new.timeout_sec))
        changes.append(Change(text_id, EventType.CREATED, None, pending, 0, new.tenant,
                              new.task))
    conn.executemany(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, trace_id, timeout_sec)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?)", rows)
    append(conn, now, changes)
    return [SubmitResult(job, created=True) for job in created]


def submit_each(
    conn: sqlite3.Connection, now: float, jobs: list[NewJob], rate: RateLimit | None
) -> list[rules.SubmitOutcome]:
    """Separate submits in one transaction (group commit): each job is decided in turn as if
    it came alone, and a refusal refuses that job only (it has written nothing)."""
    plan = rules.plan_group(jobs)
    outcomes: dict[int, rules.SubmitOutcome] = {}
    changes: list[Change] = []
    for index in plan.fresh:
        job = jobs[index]
        try:
            replay = _replay(conn, job) or _unique_hit(conn, job)
            if replay is None and rate is not None:
                _take_tokens(conn, now, job.tenant, 1, rate)
        except (IdempotencyConflict, RateLimited) as refused:
            outcomes[index] = refused
            continue
        outcomes[index] = replay if replay is not None else _insert(conn, now, job, changes)
    append(conn, now, changes)
    return rules.settle_repeats(jobs, plan, outcomes)


def _replay(conn: sqlite3.Connection, job: NewJob) -> SubmitResult | None:
    """The job an earlier submit with this key made (a replay), or None if it is new."""
    if job.idempotency_key is None:
        return None
    row = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND idempotency_key = ?",
        (job.tenant, job.idempotency_key),
    ).fetchone()
    if row is None:
        return None
    rules.check_replay(row["request_hash"], job)
    return SubmitResult(READ.job(row), created=False)


def _unique_hit(conn: sqlite3.Connection, job: NewJob) -> SubmitResult | None:
    """The live job holding this submit's unique key (a unique hit), or None."""
    if job.unique_key is None:
        return None
    row = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND unique_guard = ?",
        (job.tenant, job.unique_key),
    ).fetchone()
    return None if row is None else SubmitResult(READ.job(row), created=False, unique_hit=True)


def _insert(
    conn: sqlite3.Connection, now: float, job: NewJob, changes: list[Change]
) -> SubmitResult:
    """Insert one new job; its `job_created` goes on `changes`."""
    run_at = rules.run_at(job, READ.time(now)).timestamp()
    row = conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, idempotency_key, request_hash, trace_id, timeout_sec,"
        " unique_key, unique_while, unique_guard)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {JOB_COLUMNS}",
        (str(new_job_id()), job.tenant, job.queue, job.task, dumps(dict(job.payload)),
         job.priority, job.max_retries, run_at, now, job.idempotency_key, job.request_hash,
         job.trace_id, job.timeout_sec, job.unique_key,
         None if job.unique_key is None else job.unique_while, job.unique_key),
    ).fetchone()
    changes.append(Change(row["id"], EventType.CREATED, None, row["status"], 0,
                          job.tenant, job.task))
    return SubmitResult(READ.job(row), created=True)


def cancel(conn: sqlite3.Connection, now: float, job_id: JobId) -> Job:
    """Cancel a pending job, or ask a running one to stop (see `Store.cancel`)."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    rules.check_cancellable(row["status"])
    if row["status"] == JobStatus.RUNNING.value and row["cancel_requested_at"] is not None:
        return READ.job(row)  # asked before: nothing changes
    changed, change = _cancel_row(conn, now, row, None)
    append(conn, now, [change])
    return READ.job(changed)


def _cancel_row(conn: sqlite3.Connection, now: float, row: sqlite3.Row,
                data: dict[str, Any] | None) -> tuple[sqlite3.Row, Change]:
    """Cancel a pending job at once, or ask a running one (not asked yet) to stop; the
    changed row and its event."""
    if row["status"] == JobStatus.PENDING.value:
        changed = conn.execute(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?, lease_token = NULL,"
            f" lease_owner = NULL, lease_expires_at = NULL WHERE id = ? RETURNING {JOB_COLUMNS}",
            (now, row["id"]),
        ).fetchone()
        event_type, source = EventType.CANCELLED, JobStatus.PENDING
    else:
        changed = conn.execute(
            f"UPDATE jobs SET cancel_requested_at = ? WHERE id = ? RETURNING {JOB_COLUMNS}",
            (now, row["id"]),
        ).fetchone()
        event_type, source = EventType.CANCEL_REQUESTED, JobStatus.RUNNING
    return changed, Change(row["id"], event_type, source, changed["status"],
                           changed["attempts"], row["tenant"], row["task"], data=data)


NOT_ASKED = "cancel_requested_at IS NULL"


def cancel_matching(conn: sqlite3.Connection, now: float, filter: JobFilter, limit: int,
                    after: JobId | None, actor: str | None) -> CancelBatch:
    """With a `limit` of 0, count the live jobs `filter` matches (not yet asked to stop);
    otherwise cancel up to `limit` of them after `after`, in id order, as `cancel` does,
    in one transaction with their events."""
    live = rules_of_search.LIVE_STATUSES
    if limit <= 0:
        matched, exact = search.count_matches(
            conn, rules_of_search.parts(filter.status, live), rules_of_search.conditions(filter),
            NOT_ASKED)
        return CancelBatch(matched, [], [], 0, after, datetime.fromtimestamp(now, UTC), exact)
    data = rules.bulk_cancel_data(filter.describe(), actor)
    rows = search.pick(conn, filter, after, limit, NOT_ASKED, statuses=live)
    cancelled: list[JobId] = []
    requested: list[JobId] = []
    changes: list[Change] = []
    for row in rows:
        _, change = _cancel_row(conn, now, row, data)
        changes.append(change)
        (cancelled if change.type is EventType.CANCELLED else requested).append(
            READ.id(row["id"]))
    append(conn, now, changes)
    return CancelBatch(0, cancelled, requested, len(rows),
                       READ.id(rows[-1]["id"]) if rows else after)


def retry(conn: sqlite3.Connection, now: float, job_id: JobId, trace_id: str | None) -> Job:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    rules.check_retryable(row["status"], row["retried_by"], json.loads(row["payload"]))
    new_id = str(new_job_id())
    # The copy keeps the unique key, and holds it unless a live job of the key already does
    # (an operator's retry is never refused; the copy then simply runs unguarded).
    key = row["unique_key"]
    taken = key is not None and conn.execute(
        "SELECT 1 FROM jobs WHERE tenant = ? AND unique_guard = ?", (row["tenant"], key)
    ).fetchone() is not None
    new_row = conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, retry_of, trace_id, timeout_sec, unique_key,"
        " unique_while, unique_guard)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {JOB_COLUMNS}",
        (new_id, row["tenant"], row["queue"], row["task"], row["payload"], row["priority"],
         row["max_retries"], now, now, row["id"], trace_id or row["trace_id"],
         row["timeout_sec"], key, row["unique_while"], None if taken else key),
    ).fetchone()
    conn.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (new_id, row["id"]))
    append(conn, now, [
        Change(new_id, EventType.CREATED, None, new_row["status"], 0, row["tenant"],
               row["task"], data={"retry_of": row["id"]}),
        Change(row["id"], EventType.RETRIED, JobStatus(row["status"]), row["status"],
               row["attempts"],
               row["tenant"], row["task"], data={"retried_by": new_id}),
    ])
    return READ.job(new_row)
