"""What producers ask of the SQLite store: submit (one job or a batch) and retry from the DLQ.

Each function runs inside one `BEGIN IMMEDIATE` transaction on the store's writer thread and
receives the store's clock as `now` (epoch seconds); a refusal (conflict, rate limit, bad
payload) raises and rolls everything back.
"""

from __future__ import annotations

import json
import sqlite3

from conveyor.errors import JobNotFound
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Job, JobId, NewJob, RateLimit, SubmitResult, new_job_id
from conveyor.store import rules
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


def submit_many(
    conn: sqlite3.Connection, now: float, jobs: list[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    plan = rules.plan_batch(jobs)
    results: dict[int, SubmitResult] = {}
    fresh: list[int] = []
    for index in plan.fresh:
        job = jobs[index]
        if job.idempotency_key is not None:
            row = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND idempotency_key = ?",
                (job.tenant, job.idempotency_key),
            ).fetchone()
            if row is not None:
                rules.check_replay(row["request_hash"], job)
                results[index] = SubmitResult(READ.job(row), created=False)
                continue
        fresh.append(index)
    if rate is not None:
        for tenant, wanted in sorted(rules.wanted_tokens([jobs[i] for i in fresh]).items()):
            _take_tokens(conn, now, tenant, wanted, rate)
    changes: list[Change] = []
    for index in fresh:
        job = jobs[index]
        row = conn.execute(
            "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
            " max_retries, run_at, created_at, idempotency_key, request_hash, trace_id)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?)"
            f" RETURNING {JOB_COLUMNS}",
            (str(new_job_id()), job.tenant, job.queue, job.task, dumps(dict(job.payload)),
             job.priority, job.max_retries, now + max(0.0, job.delay_sec), now,
             job.idempotency_key, job.request_hash, job.trace_id),
        ).fetchone()
        results[index] = SubmitResult(READ.job(row), created=True)
        changes.append(Change(row["id"], EventType.CREATED, None, row["status"], 0,
                              job.tenant, job.task))
    for index, first in plan.repeats.items():
        results[index] = SubmitResult(results[first].job, created=False)
    append(conn, now, changes)
    return [results[index] for index in range(len(jobs))]


def retry(conn: sqlite3.Connection, now: float, job_id: JobId, trace_id: str | None) -> Job:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    rules.check_retryable(row["status"], row["retried_by"], json.loads(row["payload"]))
    new_id = str(new_job_id())
    new_row = conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, retry_of, trace_id)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?)"
        f" RETURNING {JOB_COLUMNS}",
        (new_id, row["tenant"], row["queue"], row["task"], row["payload"], row["priority"],
         row["max_retries"], now, now, row["id"], trace_id or row["trace_id"]),
    ).fetchone()
    conn.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (new_id, row["id"]))
    append(conn, now, [
        Change(new_id, EventType.CREATED, None, new_row["status"], 0, row["tenant"],
               row["task"], data={"retry_of": row["id"]}),
        Change(row["id"], EventType.RETRIED, JobStatus.FAILED, row["status"], row["attempts"],
               row["tenant"], row["task"], data={"retried_by": new_id}),
    ])
    return READ.job(new_row)
