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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from conveyor.aio import wait_event
from conveyor.errors import StoreError, StoreUnavailable
from conveyor.store.driver import DriverStore, bind_operations
from conveyor.store.sqlite import producers, reads, workers
from conveyor.store.sqlite.migrate import migrate

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


class SqliteStore(DriverStore):
    """`Store` on an SQLite file. Open with `await SqliteStore.open(path)`.

    Operations are plain functions `(conn, now, *args)` in `producers`, `workers` and
    `reads`, run on the writer or the reader thread; `now` is the store's clock (epoch
    seconds), read once per transaction."""

    supports_notify: ClassVar[bool] = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self._operations = bind_operations(producers, workers, reads)
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
        await loop.run_in_executor(store._writer_thread, migrate, store._writer)
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
    async def _write(self, operation: str, *args: object) -> Any:
        """Run `operation(conn, now, *args)` in one IMMEDIATE transaction on the writer."""
        assert self._writer is not None, "store is closed"
        conn = self._writer
        body = self._operations[operation]

        def run() -> Any:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"sqlite: {exc}") from exc
            try:
                result = body(conn, time.time(), *args)
                conn.execute("COMMIT")
                return result
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        result = await self._run(self._writer_thread, run)
        self._notify_local()
        return result

    async def _read(self, operation: str, *args: object) -> Any:
        """Run `operation(conn, now, *args)` in one read transaction (a consistent snapshot)."""
        assert self._reader is not None, "store is closed"
        conn = self._reader
        body = self._operations[operation]

        def run() -> Any:
            conn.execute("BEGIN")
            try:
                return body(conn, time.time(), *args)
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
        assert self._reader is not None, "store is closed"
        reader = self._reader
        await self._run(self._reader_thread, lambda: reader.execute("SELECT 1").fetchone())

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


__all__ = ["SqliteStore", "sqlite_path_from_url"]
