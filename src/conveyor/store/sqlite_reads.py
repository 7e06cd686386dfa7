"""SQLite read queries, run in one read transaction (a consistent snapshot) on the store's
reader thread."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from conveyor.errors import JobNotFound
from conveyor.models import Counts, Job, JobId, JobStatus, Page
from conveyor.store.base import ThroughputBucket
from conveyor.store.sqlite_rows import job_from_row


def get(conn: sqlite3.Connection, now: float, job_id: JobId) -> Job:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    return job_from_row(row)


def list_jobs(
    conn: sqlite3.Connection,
    now: float,
    status: JobStatus | None,
    tenant: str | None,
    limit: int,
    offset: int,
) -> Page:
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if tenant is not None:
        where.append("tenant = ?")
        params.append(tenant)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT count(*) FROM jobs{clause}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM jobs{clause} ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset)
    )
    return Page(jobs=[job_from_row(row) for row in rows], total=int(total))


def counts(conn: sqlite3.Connection, now: float) -> Counts:
    by_status = {status.value: 0 for status in JobStatus}
    for status in JobStatus:
        by_status[status.value] = conn.execute(
            "SELECT count(*) FROM jobs WHERE status = ?", (status.value,)
        ).fetchone()[0]
    counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    return Counts(
        pending=by_status["pending"],
        running=by_status["running"],
        done=by_status["done"],
        failed=by_status["failed"],
        jobs_submitted=int(counters.get("jobs_submitted", 0)),
        retries=int(counters.get("retries", 0)),
    )


def throughput(conn: sqlite3.Connection, now: float, minutes: int) -> list[ThroughputBucket]:
    since = (int(now) // 60 - minutes + 1) * 60
    rows = conn.execute(
        "SELECT CAST(finished_at / 60 AS INTEGER) * 60 AS minute,"
        " sum(status = 'done') AS done, sum(status = 'failed') AS failed"
        " FROM jobs WHERE finished_at >= ? GROUP BY minute ORDER BY minute",
        (since,),
    )
    return [
        ThroughputBucket(datetime.fromtimestamp(row["minute"], UTC), row["done"], row["failed"])
        for row in rows
    ]
