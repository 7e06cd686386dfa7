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
from pathlib import Path
from typing import ClassVar, ParamSpec, TypeVar

from conveyor.aio import wait_event
from conveyor.errors import (
    StoreError,
    StoreUnavailable,
)
from conveyor.models import (
    Counts,
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
)
from conveyor.payloads import check_json
from conveyor.store import sqlite_reads as reads
from conveyor.store import sqlite_writes as writes
from conveyor.store.base import ThroughputBucket, WorkerInfo
from conveyor.store.migrate import migrate_sqlite
from conveyor.store.sqlite_rows import (
    dumps,
    event_from_row,
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
        check_json(job.payload)
        return (await self._write(writes.submit_all, [job], rate))[0]

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        if not jobs:
            return []
        for job in jobs:
            check_json(job.payload)
        return await self._write(writes.submit_all, list(jobs), rate)

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        return await self._write(writes.retry, job_id, trace_id)

    # -- readers ---------------------------------------------------------------------------
    async def get(self, job_id: JobId) -> Job:
        return await self._read(reads.get, job_id)

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        tenant: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        return await self._read(reads.list_jobs, status, tenant, limit, offset)

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        def run(conn: sqlite3.Connection, now: float) -> list[JobEvent]:
            rows = conn.execute(
                "SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", (str(job_id),)
            )
            return [event_from_row(row) for row in rows]

        return await self._read(run)

    async def counts(self) -> Counts:
        return await self._read(reads.counts)

    async def throughput(self, minutes: int) -> list[ThroughputBucket]:
        return await self._read(reads.throughput, minutes)

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
        return await self._write(writes.lease, worker, list(queues), limit, lease_for_sec)

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
        return await self._write(writes.finish, list(outcomes), worker)

    async def release(self, leases: Sequence[Lease]) -> None:
        if leases:
            await self._write(writes.release, list(leases))

    async def rescue(self) -> list[JobId]:
        return await self._write(writes.rescue)

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


__all__ = ["SqliteStore", "sqlite_path_from_url"]
