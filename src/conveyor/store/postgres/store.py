"""The PostgreSQL store: any number of API and worker processes on any number of hosts.

psycopg 3 (async) with a `psycopg_pool.AsyncConnectionPool` per process, plus a dedicated
LISTEN connection for each kind of waiting the process does (`listener.py`: the event log
for the API, leasable work for workers). Every write is one transaction that also writes its
`job_events` rows and sends its NOTIFY; the SQL lives in `statements.py` (readable whole in
`sql/`), and `events.py` explains the lock order and how event seq order is made equal to
commit order.

Limits and promises:

- The database clock decides leases, retries and rescue (`now()`), never a host's clock.
- Leasing is one statement, a `MATERIALIZED` CTE of `SELECT … FOR UPDATE SKIP LOCKED`
  feeding `UPDATE … RETURNING`: concurrent workers take disjoint batches without waiting on
  each other.
- Connection trouble (server down, restarted, pool exhausted, statement timeout) raises
  `StoreUnavailable`; the pool replaces broken connections on its own, so calls succeed
  again once the server is back. A deadlock is retried twice before it is reported.
- Pool connections run in autocommit. Lease, finish, heartbeat, release, rescue and a
  plain submit are one statement each (one round trip, its own transaction); rate-limited
  submits and DLQ retries are short explicit transactions.
- Settings (pool size, timeouts) come from query parameters of the URL; see
  `conninfo.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from conveyor.aio import wait_event
from conveyor.errors import IdempotencyConflict, StoreError, StoreUnavailable
from conveyor.models import JobId
from conveyor.store.deadline import Deadline
from conveyor.store.driver import DriverStore, bind_operations
from conveyor.store.postgres import (
    dlq,
    keys,
    producers,
    queues,
    reads,
    retention,
    schedules,
    stats,
    tenants,
    workers,
)
from conveyor.store.postgres.conninfo import PostgresOptions, describe, parse_postgres_url
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.listener import EVENTS, WORK, Listener, shut_down
from conveyor.store.postgres.migrate import check_schema, migrate

log = logging.getLogger("conveyor.store.postgres")

_DEADLOCK_ATTEMPTS = 3
_POLL_CONNECTED_SEC = 5.0
"""`wait_for_change` re-reads max(seq) this often while LISTEN is up (belt and braces)."""
_POLL_DISCONNECTED_SEC = 0.25
"""… and this often while the listener is reconnecting."""
_CLOSE_WAIT_SEC = 1.0
"""How long closing waits for the pool's own tasks (a connection attempt into a cut network
would otherwise hold a stopping process for its whole connect timeout)."""

_CONSTRAINT_ERRORS: dict[str, type[StoreError]] = {
    "jobs_idempotency": IdempotencyConflict,
}
"""Unique violations that mean something to the caller, by constraint (index) name."""




def _unique_violation(exc: psycopg.errors.UniqueViolation) -> StoreError:
    name = exc.diag.constraint_name or ""
    error = _CONSTRAINT_ERRORS.get(name)
    return error() if error else StoreError(f"postgres: unique violation on {name}")


class PostgresStore(DriverStore):
    """`Store` on PostgreSQL. Open with `await open_postgres(url)`; `await close()` after.

    Operations are async functions `(conn, *args)` in `producers`, `workers` and `reads`,
    given a pooled connection in autocommit: one statement is its own transaction, and an
    operation that needs several opens `conn.transaction()` itself."""

    supports_notify: ClassVar[bool] = True

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]],
        url: str,
        conninfo: str,
        options: PostgresOptions,
        *,
        listens: bool = True,
    ) -> None:
        self.url = url
        """The URL the store was opened with (tests and tools connect to it directly)."""
        self._pool = pool
        self._operations = bind_operations(producers, workers, reads, queues, schedules, retention,
                                           dlq, keys, tenants, stats)
        fair_until: workers.FairUntil = {}  # the picks' hint (workers.py), this store's own
        for name in ("lease", "reserve"):
            self._operations[name] = functools.partial(self._operations[name],
                                                       fair_until=fair_until)
        self._where = describe(conninfo)
        self.options = options
        self._listens = listens
        self._listener = Listener(conninfo, EVENTS, "listener")
        """The event log's listener, for `wait_for_change`."""
        self._work_listener = Listener(conninfo, WORK, "work-listener")
        """Leasable work's and cancel requests' listener, for `wait_for_work` and `on_cancel`."""
        self._work_polls = 0
        self._sweeper: asyncio.Task[None] | None = None

    async def close(self) -> None:
        await self._listener.stop()
        await self._work_listener.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._pool.close(timeout=_CLOSE_WAIT_SEC)

    # -- plumbing --------------------------------------------------------------------------
    async def _write(self, operation: str, *args: object) -> Any:
        return await self._run(self._operations[operation], *args)

    async def _read(self, operation: str, *args: object) -> Any:
        return await self._run(self._operations[operation], *args)

    async def _run(self, body: Any, *args: object) -> Any:
        """Run `body(conn, *args)` on a pooled connection. Driver errors are translated at
        this seam; domain errors from `body` pass through."""
        attempt = 0
        while True:
            attempt += 1
            deadline: Deadline | None = None
            try:
                async with self._pool.connection() as conn:
                    deadline = Deadline(self.call_timeout, functools.partial(shut_down, conn))
                    try:
                        return await body(conn, *args)
                    finally:
                        deadline.cancel()
            except psycopg.errors.DeadlockDetected as exc:
                if attempt < _DEADLOCK_ATTEMPTS:
                    log.info("postgres deadlock, retrying (attempt %d)", attempt)
                    continue
                raise StoreUnavailable(f"postgres: {exc}") from exc
            except psycopg.errors.UniqueViolation as exc:
                raise _unique_violation(exc) from exc
            except psycopg.OperationalError as exc:  # includes pool timeouts, cancellations
                self._sweep_pool()
                if deadline is not None and deadline.expired:
                    raise StoreUnavailable(deadline.message(f"postgres at {self._where}")
                                           ) from exc
                raise StoreUnavailable(f"postgres at {self._where}: {exc}") from exc
            except psycopg.Error as exc:
                raise StoreError(f"postgres: {exc}") from exc

    def _sweep_pool(self) -> None:
        """After a connection failure, test every idle connection at once, so a server
        restart costs one failed call rather than one per pooled connection."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._check_pool())

    async def _check_pool(self) -> None:
        with contextlib.suppress(Exception):
            await self._pool.check()

    async def ping(self) -> None:
        await self.run_sql("SELECT 1")

    def on_cancel(self, callback: Callable[[JobId], None]) -> None:
        self._work_listener.on_cancel(callback)
        if self._listens and not self._work_listener.started:
            self._work_listener.start()

    async def _listening(self, listener: Listener) -> Listener:
        """`listener`, started the first time it is waited on (and given a moment to connect,
        so that the first wait is pushed rather than polled). A process listens only for
        what it waits for: a worker never follows the event log, so other workers' leases
        and acks do not wake it. A producer store never listens (its waits poll)."""
        if self._listens and not listener.started:
            listener.start()
            await listener.wait_connected(self.options.connect_timeout)
        return listener

    async def run_sql(
        self, query: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> list[dict[str, Any]]:
        """One statement through the pool and the error translation above, unprepared
        (for `ping`, tools and tests): its rows, or [] when it returns none."""
        async def body(conn: Conn) -> list[dict[str, Any]]:
            cur = await conn.execute(query, params)
            return await cur.fetchall() if cur.description else []

        result: list[dict[str, Any]] = await self._run(body)
        return result

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        """Pushed by NOTIFY. While LISTEN is up the listener's seq is current (it read max(seq)
        when it started listening, and every commit since has notified it), so waiting costs
        no query; the database is read while LISTEN is down, and every few seconds of a long
        wait as a safety net."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listener = await self._listening(self._listener)
        seq = listener.newest_seq if listener.connected else await self.last_event_seq()
        read_at = loop.time()
        while True:
            changed = listener.changed  # taken before reading, so no wake-up is lost
            seq = max(seq, listener.newest_seq)
            remaining = deadline - loop.time()
            if seq > since_seq or remaining <= 0:
                return seq
            poll = _POLL_CONNECTED_SEC if listener.connected else _POLL_DISCONNECTED_SEC
            # Not asyncio.wait_for: on Python 3.11 it can swallow the cancellation of a stopping
            # worker (see conveyor.aio), which then waits here forever.
            await wait_event(changed, min(remaining, poll))
            if not listener.connected or loop.time() - read_at >= poll:
                seq = max(seq, await self.last_event_seq())
                read_at = loop.time()

    async def wait_for_work(self, since: int, timeout: float) -> int:
        """Pushed by NOTIFY on `WORK_CHANNEL`: the mark moves with each commit that may have
        made jobs leasable. While that LISTEN is down (or for a producer store), the mark
        moves every `_POLL_DISCONNECTED_SEC` instead, so a waiting worker looks for itself."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listener = await self._listening(self._work_listener)
        while True:
            changed = listener.changed  # taken before reading, so no wake-up is lost
            mark = listener.notices + self._work_polls
            remaining = deadline - loop.time()
            if mark > since or remaining <= 0:
                return mark
            if listener.connected:
                await wait_event(changed, remaining)
            elif not await wait_event(changed, min(remaining, _POLL_DISCONNECTED_SEC)):
                self._work_polls += 1


PRODUCER_POOL_MAX = 4
"""A producer's pool at most (its submits share commits anyway: `store/group.py`)."""


async def open_postgres(url: str, *, producer: bool = False) -> PostgresStore:
    """Connect, migrate the schema (safe when many processes start at once), open the pool
    (each LISTEN connection is opened the first time it is waited on). Raises
    `StoreUnavailable` when the server cannot be reached.

    `producer`: for code that only submits and reads jobs: the schema is checked, not
    migrated (`SchemaOutdated`), the pool is small, and there is no LISTEN connection, so
    no notification of the cluster reaches it (`wait_for_change` then polls)."""
    conninfo, options = parse_postgres_url(url)
    where = describe(conninfo)
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await (check_schema(conn) if producer else migrate(conn))
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"postgres at {where}: {exc}") from exc
    except psycopg.Error as exc:  # a migration failed: its transaction was rolled back
        raise StoreError(f"postgres at {where}: migrating the schema failed: {exc}") from exc
    pool: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] = AsyncConnectionPool(
        conninfo,
        connection_class=psycopg.AsyncConnection[dict[str, Any]],
        # Statements are prepared only when asked (see `rows.fetch`), never by count. (None
        # would switch preparing off altogether, `prepare=True` included.)
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 2**31},
        min_size=min(options.pool_min_size, 1) if producer else options.pool_min_size,
        max_size=min(options.pool_max_size, PRODUCER_POOL_MAX) if producer
        else options.pool_max_size,
        timeout=options.pool_timeout,
        name="conveyor",
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=max(options.pool_timeout, options.connect_timeout))
    except psycopg.OperationalError as exc:
        await pool.close()
        raise StoreUnavailable(f"postgres at {where}: {exc}") from exc
    return PostgresStore(pool, url, conninfo, options, listens=not producer)


__all__ = ["PostgresStore", "open_postgres"]
