"""What readers ask of the PostgreSQL store. Each function is one or two statements in
autocommit on a pooled connection (each its own snapshot; a list and its total may be a
commit apart, which a page cannot tell)."""

from __future__ import annotations

from dataclasses import replace

from conveyor.errors import JobNotFound
from conveyor.lifecycle import Counter, JobStatus, pruned_counter, status_counter
from conveyor.models import Counts, Job, JobEvent, JobId, Page
from conveyor.store import rules
from conveyor.store.base import ThroughputBucket, WorkerInfo
from conveyor.store.postgres import search
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.rows import READ, fetch
from conveyor.store.search import JobFilter


async def get(conn: Conn, job_id: JobId) -> Job:
    rows = await fetch(conn, sql.GET, (job_id,))
    if not rows:
        raise JobNotFound()
    return READ.job(rows[0])


async def list_jobs(conn: Conn, filter: JobFilter, limit: int, offset: int,
                    after: JobId | None) -> Page:
    """A search (`postgres.search`); a status alone is totalled by the counters."""
    counted = None if filter.narrowed else rules.list_total(await counts(conn), filter.status)
    return await search.list_jobs(conn, filter, limit, offset, after, counted)


async def job_events(conn: Conn, job_id: JobId) -> list[JobEvent]:
    return [READ.event(row) for row in await fetch(conn, sql.JOB_EVENTS, (job_id,), False)]


async def counts(conn: Conn) -> Counts:
    counters = {row["name"]: int(row["value"]) for row in await fetch(conn, sql.COUNTERS, ())}
    by_status = {status.value: counters.get(status_counter(status), 0) for status in JobStatus}
    return Counts(**by_status, jobs_submitted=counters.get(Counter.JOBS_SUBMITTED, 0),
                  retries=counters.get(Counter.RETRIES, 0),
                  pruned={status: counters[pruned_counter(status)] for status in JobStatus
                          if pruned_counter(status) in counters})


async def tenant_counts(conn: Conn, tenant: str) -> Counts:
    rows = await fetch(conn, sql.TENANT_COUNTS, (tenant,), False)
    return rules.tenant_counts((row["status"], row["n"], row["retries"]) for row in rows)


async def throughput(conn: Conn, minutes: int, tenant: str | None) -> list[ThroughputBucket]:
    rows = await fetch(conn, sql.THROUGHPUT, {"minutes": minutes, "tenant": tenant}, False)
    return [ThroughputBucket(row["minute"], row["done"], row["failed"]) for row in rows]


async def events_after(conn: Conn, seq: int, limit: int) -> list[JobEvent]:
    return [READ.event(row) for row in await fetch(conn, sql.EVENTS_AFTER, (seq, limit))]


async def last_event_seq(conn: Conn) -> int:
    return int((await fetch(conn, sql.LAST_EVENT_SEQ, ()))[0]["seq"])


async def list_workers(conn: Conn, seen_within_sec: float,
                       tenant: str | None) -> list[WorkerInfo]:
    rows = await fetch(conn, sql.LIST_WORKERS, (seen_within_sec,), False)
    workers = [READ.worker(row) for row in rows]
    if tenant is None:
        return workers
    running = {row["lease_owner"]: int(row["n"])
               for row in await fetch(conn, sql.TENANT_RUNNING, (tenant,), False)}
    return [replace(worker, running=running.get(worker.id, 0)) for worker in workers]
