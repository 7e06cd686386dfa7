"""SQLite write transactions. Each function runs inside one `BEGIN IMMEDIATE` transaction
on the store's writer thread and receives the store's clock as `now` (epoch seconds)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

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
from conveyor.payloads import check_json
from conveyor.store.sqlite_rows import EventRow, dumps, job_from_row, lease_from_row


def insert_events(conn: sqlite3.Connection, events: Sequence[EventRow]) -> None:
    conn.executemany(
        "INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker,"
        " error, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )


def bump(conn: sqlite3.Connection, name: str, by: int) -> None:
    if by:
        conn.execute("UPDATE counters SET value = value + ? WHERE name = ?", (by, name))


def take_tokens(
    conn: sqlite3.Connection, now: float, tenant: str, wanted: int, rate: RateLimit
) -> None:
    """Token bucket of `per_minute` tokens refilled continuously; raise when short."""
    capacity = float(rate.per_minute)
    refill_per_sec = capacity / 60.0
    row = conn.execute(
        "SELECT tokens, updated_at FROM rate_limits WHERE tenant = ?", (tenant,)
    ).fetchone()
    tokens = capacity
    if row is not None:
        tokens = min(capacity, row["tokens"] + max(0.0, now - row["updated_at"]) * refill_per_sec)
    if tokens < wanted:
        retry_after = (wanted - tokens) / refill_per_sec if wanted <= capacity else 60.0
        raise RateLimited(
            retry_after,
            f"tenant {tenant!r} may submit {rate.per_minute} jobs per minute",
        )
    conn.execute(
        "INSERT INTO rate_limits (tenant, tokens, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (tenant) DO UPDATE SET tokens = excluded.tokens,"
        " updated_at = excluded.updated_at",
        (tenant, tokens - wanted, now),
    )


def submit_all(
    conn: sqlite3.Connection, now: float, jobs: list[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    results: list[SubmitResult | None] = [None] * len(jobs)
    fresh: list[tuple[int, NewJob]] = []
    for index, job in enumerate(jobs):
        if job.idempotency_key is not None:
            row = conn.execute(
                "SELECT * FROM jobs WHERE tenant = ? AND idempotency_key = ?",
                (job.tenant, job.idempotency_key),
            ).fetchone()
            if row is not None:
                if row["request_hash"] != job.request_hash:
                    raise IdempotencyConflict()
                results[index] = SubmitResult(job_from_row(row), created=False)
                continue
        fresh.append((index, job))
    if rate is not None and rate.per_minute > 0:
        per_tenant: dict[str, int] = {}
        for _, job in fresh:
            per_tenant[job.tenant] = per_tenant.get(job.tenant, 0) + 1
        for tenant, wanted in per_tenant.items():
            take_tokens(conn, now, tenant, wanted, rate)
    events: list[EventRow] = []
    seen_keys: dict[tuple[str, str], int] = {}
    for index, job in fresh:
        if job.idempotency_key is not None:
            key = (job.tenant, job.idempotency_key)
            if key in seen_keys:  # the same key twice in one batch: the first one wins
                first = results[seen_keys[key]]
                assert first is not None
                if jobs[seen_keys[key]].request_hash != job.request_hash:
                    raise IdempotencyConflict()
                results[index] = SubmitResult(first.job, created=False)
                continue
            seen_keys[key] = index
        job_id = new_job_id()
        row = conn.execute(
            "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
            " max_retries, run_at, created_at, idempotency_key, request_hash, trace_id)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?) RETURNING *",
            (str(job_id), job.tenant, job.queue, job.task, dumps(dict(job.payload)),
             job.priority, job.max_retries, now + max(0.0, job.delay_sec), now,
             job.idempotency_key, job.request_hash, job.trace_id),
        ).fetchone()
        results[index] = SubmitResult(job_from_row(row), created=True)
        events.append((str(job_id), EventType.CREATED.value, "pending", now, 0, job.tenant,
                       job.task, None, None, None))
    insert_events(conn, events)
    bump(conn, "jobs_submitted", len(events))
    return [result for result in results if result is not None]


def retry(conn: sqlite3.Connection, now: float, job_id: JobId, trace_id: str | None) -> Job:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    if row["status"] != JobStatus.FAILED.value:
        raise InvalidTransition(f"only failed jobs can be retried; this one is {row['status']}")
    if row["retried_by"] is not None:
        raise InvalidTransition(f"this job was already retried as {row['retried_by']}")
    check_json(json.loads(row["payload"]), "the stored payload")  # a row from before the limits
    new_id = str(new_job_id())
    new_row = conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, retry_of, trace_id)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?) RETURNING *",
        (new_id, row["tenant"], row["queue"], row["task"], row["payload"], row["priority"],
         row["max_retries"], now, now, row["id"], trace_id or row["trace_id"]),
    ).fetchone()
    conn.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (new_id, row["id"]))
    insert_events(conn, [
        (new_id, EventType.CREATED.value, "pending", now, 0, row["tenant"], row["task"],
         None, None, dumps({"retry_of": row["id"]})),
        (row["id"], EventType.RETRIED.value, "failed", now, row["attempts"], row["tenant"],
         row["task"], None, None, dumps({"retried_by": new_id})),
    ])
    bump(conn, "jobs_submitted", 1)
    return job_from_row(new_row)


def lease(
    conn: sqlite3.Connection,
    now: float,
    worker: str,
    queues: list[str],
    limit: int,
    lease_for_sec: float,
) -> list[Lease]:
    marks = ",".join("?" * len(queues))
    rows = conn.execute(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,"
        " lease_token = lower(hex(randomblob(16))), lease_expires_at = ?, started_at = ?"
        " WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?"
        f" AND queue IN ({marks}) ORDER BY priority DESC, run_at, id LIMIT ?)"
        " RETURNING *",
        (worker, now + lease_for_sec, now, now, *queues, limit),
    ).fetchall()
    insert_events(conn, [
        (row["id"], EventType.LEASED.value, "running", now, row["attempts"], row["tenant"],
         row["task"], worker, None, dumps({"wait": round(max(0.0, now - row["run_at"]), 6)}))
        for row in rows
    ])
    return [lease_from_row(row) for row in rows]


def finish(
    conn: sqlite3.Connection, now: float, outcomes: list[Outcome], worker: str
) -> list[bool]:
    applied: list[bool] = []
    events: list[EventRow] = []
    retries = 0
    for outcome in outcomes:
        lease = outcome.lease
        if isinstance(outcome, Ack):
            row = conn.execute(
                "UPDATE jobs SET status = 'done', result = ?, finished_at = ?,"
                " lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_token = ? AND status = 'running'"
                " RETURNING status, attempts, tenant, task, started_at",
                (dumps(outcome.result), now, str(lease.job_id), lease.token.hex),
            ).fetchone()
            event_type, error = EventType.SUCCEEDED, None
        else:
            row = conn.execute(
                "UPDATE jobs SET"
                " status = CASE WHEN ? OR attempts > max_retries THEN 'failed' ELSE 'pending' END,"
                " run_at = CASE WHEN ? OR attempts > max_retries THEN run_at ELSE ? END,"
                " finished_at = CASE WHEN ? OR attempts > max_retries THEN ? ELSE NULL END,"
                " last_error = ?, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_token = ? AND status = 'running'"
                " RETURNING status, attempts, tenant, task, started_at",
                (outcome.permanent, outcome.permanent, now + max(0.0, outcome.retry_in_sec),
                 outcome.permanent, now, outcome.error, str(lease.job_id), lease.token.hex),
            ).fetchone()
            error = outcome.error
            if row is not None and row["status"] == "pending":
                event_type = EventType.RETRY_SCHEDULED
                retries += 1
            else:
                event_type = EventType.FAILED
        applied.append(row is not None)
        if row is None:
            continue
        data = {"runtime": round(max(0.0, now - (row["started_at"] or now)), 6)}
        if event_type is EventType.RETRY_SCHEDULED:
            data["retry_in"] = round(max(0.0, outcome.retry_in_sec), 3)  # type: ignore[union-attr]
        events.append((str(lease.job_id), event_type.value, row["status"], now, row["attempts"],
                       row["tenant"], row["task"], worker, error, dumps(data)))
    insert_events(conn, events)
    bump(conn, "retries", retries)
    return applied


def release(conn: sqlite3.Connection, now: float, leases: list[Lease]) -> None:
    events: list[EventRow] = []
    for lease in leases:
        row = conn.execute(
            "UPDATE jobs SET status = 'pending', attempts = max(0, attempts - 1),"
            " lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = ? AND lease_token = ? AND status = 'running'"
            " RETURNING attempts, tenant, task",
            (str(lease.job_id), lease.token.hex),
        ).fetchone()
        if row is not None:
            events.append((str(lease.job_id), EventType.RELEASED.value, "pending", now,
                           row["attempts"], row["tenant"], row["task"], None, None, None))
    insert_events(conn, events)


def rescue(conn: sqlite3.Connection, now: float) -> list[JobId]:
    expired = conn.execute(
        "SELECT id, lease_owner FROM jobs WHERE status = 'running' AND lease_expires_at < ?",
        (now,),
    ).fetchall()
    events: list[EventRow] = []
    rescued: list[JobId] = []
    retries = 0
    for candidate in expired:
        error = f"lease expired: worker {candidate['lease_owner']} stopped renewing it"
        row = conn.execute(
            "UPDATE jobs SET"
            " status = CASE WHEN attempts > max_retries THEN 'failed' ELSE 'pending' END,"
            " finished_at = CASE WHEN attempts > max_retries THEN ? ELSE NULL END,"
            " run_at = CASE WHEN attempts > max_retries THEN run_at ELSE ? END,"
            " last_error = ?, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL"
            " WHERE id = ? AND status = 'running' RETURNING id, status, attempts, tenant, task",
            (now, now, error, candidate["id"]),
        ).fetchone()
        if row is None:
            continue
        dead = row["status"] == "failed"
        retries += 0 if dead else 1
        event_type = EventType.FAILED if dead else EventType.LEASE_EXPIRED
        events.append((row["id"], event_type.value, row["status"], now, row["attempts"],
                       row["tenant"], row["task"], candidate["lease_owner"], error, None))
        rescued.append(JobId(row["id"]))
    insert_events(conn, events)
    bump(conn, "retries", retries)
    return rescued
