"""The embedded SQLite store: one file, any number of processes on one machine.

Limits, by design of SQLite: one writer at a time (writers queue on a busy timeout), so there
is no SKIP LOCKED: a lease is `BEGIN IMMEDIATE` + `UPDATE … WHERE id IN (SELECT … LIMIT n)
RETURNING`. There is no LISTEN/NOTIFY: `wait_for_change` polls the `job_events` sequence
every 50 ms, and is woken at once by writes from this process and, through a Unix datagram
socket per store (`wake.py`), by commits of other processes on this machine; the poll stays
as the fallback, so a lost wake-up costs latency, never a job. The clock is the host's, which
every process on the file shares. WAL mode with `synchronous=FULL`: a committed job survives a
kill -9 of every process and a power cut. Writers of all conveyor processes on the file queue
for its lock in the kernel (`writelock.py`), not in the busy handler's sleeps.

Each connection lives on its own thread (one writer, one reader) and every method runs as a
single function on that thread, so a transaction costs one hop off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from conveyor.aio import wait_event
from conveyor.errors import StoreError, StoreUnavailable
from conveyor.logging import get_logger
from conveyor.models import JobId
from conveyor.store.deadline import Deadline
from conveyor.store.driver import DriverStore, bind_operations
from conveyor.store.sqlite import (
    dlq,
    keys,
    producers,
    queues,
    reads,
    retention,
    schedules,
    search,
    stats,
    tenants,
    workers,
)
from conveyor.store.sqlite.events import WriteConnection
from conveyor.store.sqlite.migrate import check_schema, migrate
from conveyor.store.sqlite.wake import WakeChannel, enabled_by_environment
from conveyor.store.sqlite.writelock import WriteLock

log = get_logger("conveyor.store")

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


class _Abandoned:
    """Called when a call's deadline passes: marks it abandoned and interrupts whatever its
    connection is running."""

    __slots__ = ("conn", "flag")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.flag = False

    def __call__(self) -> None:
        self.flag = True
        self.conn.interrupt()


def _connect(path: Path) -> WriteConnection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000,
        factory=WriteConnection,
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
        self.poll_sec = _POLL_SEC
        """How often `wait_for_change` re-reads the sequence: the fallback for wake-ups that
        do not arrive (tests set it very long to see that they do)."""
        self._operations = bind_operations(producers, workers, reads, queues, schedules, retention,
                                           dlq, keys, tenants, stats)
        self._operations["index_search"] = search.index_search  # this driver's own upkeep
        self._indexer: asyncio.Task[None] | None = None
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite-write")
        self._reader_thread = ThreadPoolExecutor(1, thread_name_prefix="conveyor-sqlite-read")
        self._writer: WriteConnection | None = None
        self._write_lock = WriteLock(None)
        """Taken around each write transaction, so that the writers of all processes on the
        file queue for SQLite's lock in the kernel (`writelock.py`)."""
        self._reader: sqlite3.Connection | None = None
        self._changed = asyncio.Event()
        """Set (then replaced) whenever `_known_seq` moves, or a read is called for."""
        self._known_seq = 0
        """The newest `job_events.seq` this store knows to be committed: from its own writes,
        its reads and its peers' datagrams."""
        self._read_at = float("-inf")
        """Loop time of the last read of the sequence (started then)."""
        self._reads_count_after = float("-inf")
        """A read started before this loop time may have missed a dropped datagram's commit."""
        self._wake: WakeChannel | None = None
        self._work_mark = 0
        """Notices of work (`wait_for_work`): own writes, peers' datagrams, unannounced
        commits found by a read."""
        self._work_changed = asyncio.Event()
        self._work_read_at = float("-inf")

    @classmethod
    async def open(
        cls, path: Path, *, wake: bool | None = None, producer: bool = False
    ) -> SqliteStore:
        """Open (creating and migrating) the file. `wake`: exchange wake-ups with the other
        processes on it (`wake.py`); by default unless `CONVEYOR_SQLITE_WAKE=0`.
        `producer`: the schema is checked, not migrated (`SchemaOutdated`); wake-ups are
        still sent, so workers start the jobs it submits at once."""
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        loop = asyncio.get_running_loop()
        store._writer = await loop.run_in_executor(store._writer_thread, _connect, path)
        store._write_lock = WriteLock.open(path)
        try:
            await loop.run_in_executor(store._writer_thread,
                                       check_schema if producer else migrate, store._writer)
        except BaseException:
            await store.close()
            raise
        store._reader = await loop.run_in_executor(store._reader_thread, _connect, path)
        if enabled_by_environment() if wake is None else wake:
            store._wake = WakeChannel.open(path, store._peer_committed)
        if not producer:
            store._indexer = asyncio.create_task(store._index_search(), name="sqlite-search")
        return store

    async def _index_search(self) -> None:
        """Keep the text index (`sqlite.search.index_search`) filled, off the hot path:
        every `INDEX_EVERY_SEC`, batch after batch until it has caught up. Any process may
        (the batches are idempotent); a failure is left to the next round."""
        while True:
            await asyncio.sleep(search.INDEX_EVERY_SEC)
            try:
                while await self._write("index_search") >= search.INDEX_BATCH:
                    pass
            except StoreError as exc:
                log.debug("search_index_failed", error=str(exc))

    def on_cancel(self, callback: Callable[[JobId], None]) -> None:
        """Never called: SQLite has no channel to push on, so a worker learns of a requested
        cancellation from its next heartbeat."""

    @property
    def wake_socket(self) -> Path | None:
        """The socket other processes wake this store through; None while it only polls."""
        return None if self._wake is None else self._wake.path

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexer
        if self._wake is not None:
            self._wake.close()
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            await loop.run_in_executor(self._writer_thread, self._writer.close)
        self._write_lock.close()
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

        abandoned = _Abandoned(conn)
        write_lock = self._write_lock

        def run() -> tuple[Any, int | None, bool]:
            with write_lock.held():
                return transaction()

        def transaction() -> tuple[Any, int | None, bool]:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"sqlite: {exc}") from exc
            if abandoned.flag:  # the caller gave up while the file was locked: write nothing
                conn.execute("ROLLBACK")
                raise StoreUnavailable("sqlite: abandoned after its deadline")
            try:
                before = conn.total_changes
                conn.wakes_workers = False
                now = time.time()
                result = body(conn, now, *args)
                # The newest seq this commit makes visible, for our waiters and our peers;
                # a write that changed no row (an empty lease) has nothing to tell.
                newest = reads.last_event_seq(conn, now) if conn.total_changes != before else None
                conn.execute("COMMIT")
                return result, newest, conn.wakes_workers
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        result, newest, wakes = await self._run(self._writer_thread, run, abandoned)
        if (newest is not None and newest > self._known_seq) or wakes:
            if newest is not None:
                self._learn(newest)
            if wakes:
                self._work_noticed()
            if self._wake is not None:
                self._wake.notify_peers(self._known_seq, wakes)
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

        return await self._run(self._reader_thread, run, _Abandoned(conn))

    async def _run(self, thread: ThreadPoolExecutor, fn: Callable[[], T],
                   abandoned: _Abandoned) -> T:
        """Run `fn` on its connection's thread, within the call deadline: past it the caller
        hears `StoreUnavailable` at once, a running statement is interrupted (its
        transaction rolls back), and a write still waiting for a locked file writes nothing
        once it gets the lock. (The thread itself may wait out the busy timeout.) A cut that
        comes as the write commits cannot undo it: like any timeout, the caller then cannot
        tell whether it was written (an idempotency key makes the retry safe)."""
        future = asyncio.get_running_loop().run_in_executor(thread, fn)

        def cut() -> None:
            abandoned()
            future.cancel()  # the thread goes on; its result, when it comes, is dropped

        deadline = Deadline(self.call_timeout, cut)
        try:
            return await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if deadline.expired and (task is None or not task.cancelling()):
                raise StoreUnavailable(deadline.message(f"sqlite at {self.path}")) from None
            raise
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"sqlite integrity error: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc
        finally:
            deadline.cancel()

    def _learn(self, seq: int) -> None:
        """Wake this store's waiters if `seq` is news: after its own writes and reads, and
        when a peer's datagram says another process has committed."""
        if seq > self._known_seq:
            self._known_seq = seq
            self._wake_waiters()

    def _peer_committed(self, seq: int | None, work: bool) -> None:
        """From `wake.py`: a peer's newest seq, or None when datagrams may have been lost
        (then the waiters read the sequence themselves), and whether jobs may be leasable."""
        if seq is None:
            self._read_at = self._work_read_at = float("-inf")
            self._reads_count_after = asyncio.get_running_loop().time()
            self._wake_waiters()
        else:
            self._learn(seq)
        if work:
            self._work_noticed()

    def _work_noticed(self) -> None:
        self._work_mark += 1
        self._work_changed.set()
        self._work_changed = asyncio.Event()

    def _wake_waiters(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def ping(self) -> None:
        assert self._reader is not None, "store is closed"
        reader = self._reader
        await self._run(self._reader_thread, lambda: reader.execute("SELECT 1").fetchone(),
                        _Abandoned(reader))

    async def last_event_seq(self) -> int:
        """Read, and remember what was read (it spares `wait_for_change` its next read)."""
        started = asyncio.get_running_loop().time()
        seq: int = await self._read("last_event_seq")
        if started > self._reads_count_after:
            self._read_at = max(self._read_at, started)
        self._learn(seq)
        return seq

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        """The newest seq this store knows of, as soon as it is above `since_seq` (or at the
        timeout). Its own writes and its peers' datagrams tell it at once, without a read;
        the sequence is read every `poll_sec` meanwhile (and on every wake-up while it has
        no wake-ups from peers), so a commit nobody announced is found all the same."""
        if self._wake is not None:
            self._wake.follow_events()  # from now on, every peer's commit with events
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed  # taken before looking, so no wake-up is missed
            if self._wake is None or loop.time() - self._read_at >= self.poll_sec:
                await self.last_event_seq()
            seq = self._known_seq
            remaining = deadline - loop.time()
            if seq > since_seq or remaining <= 0:
                return seq
            next_read = self._read_at + self.poll_sec - loop.time()
            await wait_event(changed, min(remaining, max(0.0, next_read)))

    async def wait_for_work(self, since: int, timeout: float) -> int:
        """The mark moves with this store's own work-making writes and its peers' datagrams
        flagged as work (a store that has never called `wait_for_change` hears of nothing
        else: `wake.py`), and when a peer's datagrams may have been lost. Until every peer
        has listed this store's socket (its first seconds under a name), or with no
        wake-ups at all, the sequence is read every `poll_sec` too, and a commit nobody
        announced moves the mark: it may have been work. After that, an unannounced commit
        was not work (other workers' leases and acks are not sent to a work-only socket),
        so nothing is read and they do not wake this store."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._work_changed  # taken before looking, so no wake-up is missed
            polling = self._wake is None or not self._wake.listed_by_peers
            if polling and loop.time() - self._work_read_at >= self.poll_sec:
                known = self._known_seq
                self._work_read_at = loop.time()
                if await self.last_event_seq() > known:
                    self._work_noticed()
            mark = self._work_mark
            remaining = deadline - loop.time()
            if mark > since or remaining <= 0:
                return mark
            next_read = self._work_read_at + self.poll_sec - loop.time()
            await wait_event(changed, min(remaining, max(0.0, next_read)) if polling
                             else remaining)


__all__ = ["SqliteStore", "sqlite_path_from_url"]
