"""What readers ask of the SQLite store. Each function runs in one read transaction (a
consistent snapshot) on the store's reader thread and receives the store's clock as `now`."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

from conveyor.errors import JobNotFound
from conveyor.lifecycle import Counter, JobStatus, pruned_counter, status_counter
from conveyor.models import Counts, Job, JobEvent, JobId, Page
from conveyor.store import rules
from conveyor.store.base import ThroughputBucket, WorkerInfo
from conveyor.store.search import JobFilter
from conveyor.store.sqlite import search
from conveyor.store.sqlite.rows import EVENT_COLUMNS, JOB_COLUMNS, READ, WORKER_COLUMNS


def get(conn: sqlite3.Connection, now: float, job_id: JobId) -> Job:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    return READ.job(row)


def list_jobs(conn: sqlite3.Connection, now: float, filter: JobFilter, limit: int,
              offset: int, after: JobId | None) -> Page:
    """A search (`sqlite.search`); a status alone is totalled by the counters."""
    counted = None if filter.narrowed else rules.list_total(counts(conn, now), filter.status)
    return search.list_jobs(conn, filter, limit, offset, after, counted)


def job_events(conn: sqlite3.Connection, now: float, job_id: JobId) -> list[JobEvent]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = ? ORDER BY seq", (str(job_id),)
    )
    return [READ.event(row) for row in rows]


def counts(conn: sqlite3.Connection, now: float) -> Counts:
    counters = {name: int(value) for name, value in conn.execute(
        "SELECT name, value FROM counters"
    )}
    by_status = {status.value: counters.get(status_counter(status), 0) for status in JobStatus}
    return Counts(**by_status, jobs_submitted=counters.get(Counter.JOBS_SUBMITTED, 0),
                  retries=counters.get(Counter.RETRIES, 0),
                  pruned={status: counters[pruned_counter(status)] for status in JobStatus
                          if pruned_counter(status) in counters})


def tenant_counts(conn: sqlite3.Connection, now: float, tenant: str) -> Counts:
    """One tenant's figures, from its stored rows (counters are kept for all tenants)."""
    return rules.tenant_counts(tuple(row) for row in conn.execute(
        "SELECT status, count(*), count(retry_of) FROM jobs WHERE tenant = ? GROUP BY status",
        (tenant,)))


def throughput(conn: sqlite3.Connection, now: float, minutes: int,
               tenant: str | None) -> list[ThroughputBucket]:
    since = (int(now) // 60 - minutes + 1) * 60
    rows = conn.execute(
        "SELECT CAST(finished_at / 60 AS INTEGER) * 60 AS minute,"
        " sum(status = 'done') AS done, sum(status = 'failed') AS failed"
        " FROM jobs WHERE finished_at >= ? AND (? IS NULL OR tenant = ?)"
        " GROUP BY minute ORDER BY minute",
        (since, tenant, tenant),
    )
    return [
        ThroughputBucket(datetime.fromtimestamp(row["minute"], UTC), row["done"], row["failed"])
        for row in rows
    ]


def events_after(conn: sqlite3.Connection, now: float, seq: int, limit: int) -> list[JobEvent]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM job_events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    )
    return [READ.event(row) for row in rows]


def last_event_seq(conn: sqlite3.Connection, now: float) -> int:
    return int(conn.execute("SELECT max(seq) FROM job_events").fetchone()[0] or 0)


def list_workers(conn: sqlite3.Connection, now: float, seen_within_sec: float,
                 tenant: str | None) -> list[WorkerInfo]:
    rows = conn.execute(
        f"SELECT {WORKER_COLUMNS} FROM workers WHERE last_seen_at >= ? ORDER BY started_at",
        (now - seen_within_sec,),
    )
    workers = [READ.worker(row) for row in rows]
    if tenant is None:
        return workers
    running = dict(conn.execute(
        "SELECT lease_owner, count(*) FROM jobs WHERE status = 'running' AND tenant = ?"
        " GROUP BY lease_owner", (tenant,)).fetchall())
    return [replace(worker, running=int(running.get(worker.id, 0))) for worker in workers]
