"""The embedded SQLite store: one file, any number of processes on one machine.

Limits, by design of SQLite: one writer at a time (writers queue on a busy timeout), so there
is no SKIP LOCKED: a lease is `BEGIN IMMEDIATE` + `UPDATE … WHERE id IN (SELECT … LIMIT n)
RETURNING`. There is no LISTEN/NOTIFY: `wait_for_change` polls the `job_events` sequence
(and is woken at once by writes from this process). The clock is the host's, which every
process on the file shares. WAL mode with `synchronous=FULL`: a committed job survives a
kill -9 of every process and a power cut.

Each connection lives on its own thread (one writer, one reader) and every method runs as a
single function on that thread, so a transaction costs one hop off the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, ParamSpec, TypeVar

from conveyor.aio import wait_event
from conveyor.errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    RateLimited,
    StoreError,
    StoreUnavailable,
)
from conveyor.models import (
    Ack,
    Counts,
    EventType,
    Job,
    JobEvent,
    JobId,
    JobStatus,
    Lease,
    NewJob,
    Outcome,
    Page,
    RateLimit,
    SubmitResult,
    new_job_id,
)
from conveyor.store.base import ThroughputBucket, WorkerInfo
from conveyor.store.migrate import migrate_sqlite
from conveyor.store.sqlite_rows import (
    EventRow,
    dumps,
    event_from_row,
    job_from_row,
    lease_from_row,
    worker_from_row,
)

P = ParamSpec("P")
T = TypeVar("T")

_POLL_SEC = 0.05
_BUSY_TIMEOUT_MS = 30_000


def sqlite_path_from_url(url: str) -> Path:
    """`sqlite:///relative.db`, `sqlite:////absolute.db` or `sqlite:///:memory:`-less paths."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not an sqlite URL: {url}")
    rest = url[len("sqlite://") :]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise ValueError("sqlite URL needs a file path, e.g. sqlite:///./data/conveyor.db")
    return Path(rest)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class SqliteStore:
    """`Store` on an SQLite file. Open with `await SqliteStore.open(path)`."""

    supports_notify: ClassVar[bool] = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite-write")
        self._reader_thread = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite-read")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._changed = asyncio.Event()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        loop = asyncio.get_running_loop()
        store._writer = await loop.run_in_executor(store._writer_thread, _connect, path)
        await loop.run_in_executor(store._writer_thread, migrate_sqlite, store._writer)
        store._reader = await loop.run_in_executor(store._reader_thread, _connect, path)
        return store

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            await loop.run_in_executor(self._writer_thread, self._writer.close)
        if self._reader is not None:
            await loop.run_in_executor(self._reader_thread, self._reader.close)
        self._writer_thread.shutdown(wait=True)
        self._reader_thread.shutdown(wait=True)

    # -- plumbing --------------------------------------------------------------------------
    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(conn, now, *args)` in one IMMEDIATE transaction on the writer thread."""
        assert self._writer is not None, "store is closed"
        conn = self._writer

        def run() -> T:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"sqlite: {exc}") from exc
            try:
                result = fn(conn, time.time(), *args)
                conn.execute("COMMIT")
                return result
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        result = await self._run(self._writer_thread, run)
        self._notify_local()
        return result

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(conn, now, *args)` in one read transaction (a consistent snapshot)."""
        assert self._reader is not None, "store is closed"
        conn = self._reader

        def run() -> T:
            conn.execute("BEGIN")
            try:
                return fn(conn, time.time(), *args)
            finally:
                conn.execute("COMMIT")

        return await self._run(self._reader_thread, run)

    async def _run(self, thread: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(thread, fn)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"sqlite integrity error: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    def _notify_local(self) -> None:
        """Wake this process's waiters now; other processes notice within `_POLL_SEC`."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def ping(self) -> None:
        await self._read(lambda conn, now: conn.execute("SELECT 1").fetchone())

    # -- producers -------------------------------------------------------------------------
    async def submit(self, job: NewJob, rate: RateLimit | None = None) -> SubmitResult:
        return (await self._write(_submit_all, [job], rate))[0]

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        if not jobs:
            return []
        return await self._write(_submit_all, list(jobs), rate)

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        return await self._write(_retry, job_id, trace_id)

    # -- readers ---------------------------------------------------------------------------
    async def get(self, job_id: JobId) -> Job:
        return await self._read(_get, job_id)

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        tenant: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        return await self._read(_list_jobs, status, tenant, limit, offset)

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        def run(conn: sqlite3.Connection, now: float) -> list[JobEvent]:
            rows = conn.execute(
                "SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", (str(job_id),)
            )
            return [event_from_row(row) for row in rows]

        return await self._read(run)

    async def counts(self) -> Counts:
        return await self._read(_counts)

    async def throughput(self, minutes: int) -> list[ThroughputBucket]:
        return await self._read(_throughput, minutes)

    async def events_after(self, seq: int, limit: int = 1000) -> list[JobEvent]:
        def run(conn: sqlite3.Connection, now: float) -> list[JobEvent]:
            rows = conn.execute(
                "SELECT * FROM job_events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            )
            return [event_from_row(row) for row in rows]

        return await self._read(run)

    async def last_event_seq(self) -> int:
        def run(conn: sqlite3.Connection, now: float) -> int:
            row = conn.execute("SELECT max(seq) FROM job_events").fetchone()
            return int(row[0] or 0)

        return await self._read(run)

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed  # taken before reading, so a local write is never missed
            seq = await self.last_event_seq()
            remaining = deadline - loop.time()
            if seq > since_seq or remaining <= 0:
                return seq
            await wait_event(changed, min(remaining, _POLL_SEC))

    # -- workers ---------------------------------------------------------------------------
    async def lease(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        if limit <= 0 or not queues:
            return []
        return await self._write(_lease, worker, list(queues), limit, lease_for_sec)

    async def heartbeat(self, leases: Sequence[Lease], lease_for_sec: float) -> set[JobId]:
        if not leases:
            return set()

        def run(conn: sqlite3.Connection, now: float) -> set[JobId]:
            held: set[JobId] = set()
            for lease in leases:
                row = conn.execute(
                    "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ?"
                    " AND status = 'running' RETURNING id",
                    (now + lease_for_sec, str(lease.job_id), lease.token.hex),
                ).fetchone()
                if row is not None:
                    held.add(lease.job_id)
            return held

        return await self._write(run)

    async def finish(self, outcomes: Sequence[Outcome], worker: str) -> list[bool]:
        if not outcomes:
            return []
        return await self._write(_finish, list(outcomes), worker)

    async def release(self, leases: Sequence[Lease]) -> None:
        if leases:
            await self._write(_release, list(leases))

    async def rescue(self) -> list[JobId]:
        return await self._write(_rescue)

    async def register_worker(self, info: WorkerInfo) -> None:
        def run(conn: sqlite3.Connection, now: float) -> None:
            conn.execute(
                "INSERT INTO workers (id, host, pid, queues, concurrency, started_at,"
                " last_seen_at, running) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
                " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                (info.id, info.host, info.pid, dumps(list(info.queues)), info.concurrency,
                 now, now),
            )

        await self._write(run)

    async def worker_seen(self, worker_id: str, running: int) -> None:
        def run(conn: sqlite3.Connection, now: float) -> None:
            conn.execute(
                "UPDATE workers SET last_seen_at = ?, running = ? WHERE id = ?",
                (now, running, worker_id),
            )

        await self._write(run)

    async def unregister_worker(self, worker_id: str) -> None:
        def run(conn: sqlite3.Connection, now: float) -> None:
            conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

        await self._write(run)

    async def list_workers(self, seen_within_sec: float) -> list[WorkerInfo]:
        def run(conn: sqlite3.Connection, now: float) -> list[WorkerInfo]:
            rows = conn.execute(
                "SELECT * FROM workers WHERE last_seen_at >= ? ORDER BY started_at",
                (now - seen_within_sec,),
            )
            return [worker_from_row(row) for row in rows]

        return await self._read(run)


# -- transactions (run on the writer thread) ---------------------------------------------------


def _insert_events(conn: sqlite3.Connection, events: Sequence[EventRow]) -> None:
    conn.executemany(
        "INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker,"
        " error, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )


def _bump(conn: sqlite3.Connection, name: str, by: int) -> None:
    if by:
        conn.execute("UPDATE counters SET value = value + ? WHERE name = ?", (by, name))


def _take_tokens(
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


def _submit_all(
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
            _take_tokens(conn, now, tenant, wanted, rate)
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
    _insert_events(conn, events)
    _bump(conn, "jobs_submitted", len(events))
    return [result for result in results if result is not None]


def _retry(conn: sqlite3.Connection, now: float, job_id: JobId, trace_id: str | None) -> Job:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    if row["status"] != JobStatus.FAILED.value:
        raise InvalidTransition(f"only failed jobs can be retried; this one is {row['status']}")
    if row["retried_by"] is not None:
        raise InvalidTransition(f"this job was already retried as {row['retried_by']}")
    new_id = str(new_job_id())
    new_row = conn.execute(
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
        " max_retries, run_at, created_at, retry_of, trace_id)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?) RETURNING *",
        (new_id, row["tenant"], row["queue"], row["task"], row["payload"], row["priority"],
         row["max_retries"], now, now, row["id"], trace_id or row["trace_id"]),
    ).fetchone()
    conn.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (new_id, row["id"]))
    _insert_events(conn, [
        (new_id, EventType.CREATED.value, "pending", now, 0, row["tenant"], row["task"],
         None, None, dumps({"retry_of": row["id"]})),
        (row["id"], EventType.RETRIED.value, "failed", now, row["attempts"], row["tenant"],
         row["task"], None, None, dumps({"retried_by": new_id})),
    ])
    _bump(conn, "jobs_submitted", 1)
    return job_from_row(new_row)


def _lease(
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
    _insert_events(conn, [
        (row["id"], EventType.LEASED.value, "running", now, row["attempts"], row["tenant"],
         row["task"], worker, None, dumps({"wait": round(max(0.0, now - row["run_at"]), 6)}))
        for row in rows
    ])
    leases = [lease_from_row(row) for row in rows]
    leases.sort(key=lambda lease: lease.job_id)
    return leases


def _finish(
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
    _insert_events(conn, events)
    _bump(conn, "retries", retries)
    return applied


def _release(conn: sqlite3.Connection, now: float, leases: list[Lease]) -> None:
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
    _insert_events(conn, events)


def _rescue(conn: sqlite3.Connection, now: float) -> list[JobId]:
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
    _insert_events(conn, events)
    _bump(conn, "retries", retries)
    return rescued


# -- reads (run on the reader thread) ----------------------------------------------------------


def _get(conn: sqlite3.Connection, now: float, job_id: JobId) -> Job:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (str(job_id),)).fetchone()
    if row is None:
        raise JobNotFound()
    return job_from_row(row)


def _list_jobs(
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


def _counts(conn: sqlite3.Connection, now: float) -> Counts:
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


def _throughput(conn: sqlite3.Connection, now: float, minutes: int) -> list[ThroughputBucket]:
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


__all__ = ["SqliteStore", "sqlite_path_from_url"]
