"""The PostgreSQL store: any number of API and worker processes on any number of hosts.

psycopg 3 (async) with a `psycopg_pool.AsyncConnectionPool` per process, plus one dedicated
LISTEN connection (`postgres_listener.py`). Every method is one transaction that also writes
its `job_events` rows and sends one NOTIFY; the SQL lives in `postgres_sql.py`, whose
docstring explains the lock order and how event seq order is made equal to commit order.

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
  `postgres_conninfo.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from conveyor.aio import wait_event
from conveyor.errors import IdempotencyConflict, JobNotFound, StoreError, StoreUnavailable
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
from conveyor.store import postgres_producers as producers
from conveyor.store import postgres_sql as sql
from conveyor.store import postgres_workers as workers
from conveyor.store.base import ThroughputBucket, WorkerInfo
from conveyor.store.postgres_conninfo import PostgresOptions, describe, parse_postgres_url
from conveyor.store.postgres_listener import Listener
from conveyor.store.postgres_migrate import migrate
from conveyor.store.postgres_rows import (
    EVENT_COLUMNS,
    JOB_COLUMNS,
    Row,
    event_from_row,
    job_from_row,
)

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("conveyor.store.postgres")

_DEADLOCK_ATTEMPTS = 3
_POLL_CONNECTED_SEC = 5.0
"""`wait_for_change` re-reads max(seq) this often while LISTEN is up (belt and braces)."""
_POLL_DISCONNECTED_SEC = 0.25
"""… and this often while the listener is reconnecting."""

_CONSTRAINT_ERRORS: dict[str, type[StoreError]] = {
    "jobs_idempotency": IdempotencyConflict,
}
"""Unique violations that mean something to the caller, by constraint (index) name."""


def _unique_violation(exc: psycopg.errors.UniqueViolation) -> StoreError:
    name = exc.diag.constraint_name or ""
    error = _CONSTRAINT_ERRORS.get(name)
    return error() if error else StoreError(f"postgres: unique violation on {name}")


_COUNTS = """
SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM jobs WHERE status = 'running') AS running,
       coalesce(sum(value) FILTER (WHERE name = 'done'), 0) AS done,
       coalesce(sum(value) FILTER (WHERE name = 'failed'), 0) AS failed,
       coalesce(sum(value) FILTER (WHERE name = 'jobs_submitted'), 0) AS jobs_submitted,
       coalesce(sum(value) FILTER (WHERE name = 'retries'), 0) AS retries
  FROM counters
"""

_THROUGHPUT = """
SELECT date_trunc('minute', finished_at) AS minute,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM jobs
 WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => %s - 1)
 GROUP BY 1 ORDER BY 1
"""


class PostgresStore:
    """`Store` on PostgreSQL. Open with `await open_postgres(url)`; `await close()` after."""

    supports_notify: ClassVar[bool] = True

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]],
        url: str,
        conninfo: str,
        options: PostgresOptions,
    ) -> None:
        self.url = url
        """The URL the store was opened with (tests and tools connect to it directly)."""
        self._pool = pool
        self._where = describe(conninfo)
        self.options = options
        self._listener = Listener(conninfo)
        self._sweeper: asyncio.Task[None] | None = None

    async def close(self) -> None:
        await self._listener.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._pool.close()

    # -- plumbing --------------------------------------------------------------------------
    async def _call(
        self,
        body: Callable[Concatenate[sql.Conn, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `body(conn, …)` on a pooled autocommit connection: fine for one statement."""
        return await self._run(False, body, *args, **kwargs)

    async def _write(
        self,
        body: Callable[Concatenate[sql.Conn, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `body(conn, …)` as one explicit transaction."""
        return await self._run(True, body, *args, **kwargs)

    async def _run(
        self,
        transaction: bool,
        body: Callable[Concatenate[sql.Conn, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Translate driver errors at the seam; domain errors from `body` pass through."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._pool.connection() as conn:
                    if not transaction:
                        return await body(conn, *args, **kwargs)
                    async with conn.transaction():
                        return await body(conn, *args, **kwargs)
            except psycopg.errors.DeadlockDetected as exc:
                if attempt < _DEADLOCK_ATTEMPTS:
                    log.info("postgres deadlock, retrying (attempt %d)", attempt)
                    continue
                raise StoreUnavailable(f"postgres: {exc}") from exc
            except psycopg.errors.UniqueViolation as exc:
                raise _unique_violation(exc) from exc
            except psycopg.OperationalError as exc:  # includes pool timeouts, cancellations
                self._sweep_pool()
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
        async def body(conn: sql.Conn) -> None:
            await conn.execute("SELECT 1")

        await self._call(body)

    # -- producers -------------------------------------------------------------------------
    async def submit(self, job: NewJob, rate: RateLimit | None = None) -> SubmitResult:
        return (await self.submit_many([job], rate))[0]

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        if not jobs:
            return []
        for job in jobs:
            check_json(job.payload)
        if producers.needs_transaction(jobs, rate):
            return await self._write(producers.submit_in_transaction, list(jobs), rate)
        return await self._call(producers.submit_plain, list(jobs))

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        return await self._write(producers.retry, job_id, trace_id)

    # -- readers ---------------------------------------------------------------------------
    async def _fetch(
        self,
        query: str,
        params: Sequence[object] | Mapping[str, object] = (),
        *,
        prepare: bool = False,
    ) -> list[Row]:
        """One statement in autocommit (its own transaction); all of its rows.

        `prepare=True` for the hot statements: they are prepared once per connection and
        run with a generic plan (`plan_cache_mode=force_generic_plan`), which saves a
        millisecond of planning per call; their SQL is written so that the generic plan is
        the right one (index conditions, no value-dependent choices). Everything else is
        planned for its actual parameters each time.
        """

        async def body(conn: sql.Conn) -> list[Row]:
            cur = await conn.execute(query, params, prepare=prepare)
            return await cur.fetchall()

        return await self._call(body)

    async def get(self, job_id: JobId) -> Job:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,), prepare=True
        )
        if not rows:
            raise JobNotFound()
        return job_from_row(rows[0])

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        tenant: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        where: list[str] = []
        params: list[object] = []
        if status is not None:
            # A literal (from the enum), not a parameter: a generic plan for `status = $1`
            # could not use the partial index for finished jobs.
            where.append(f"status = '{JobStatus(status).value}'")
        if tenant is not None:
            where.append("tenant = %s")
            params.append(tenant)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs{clause} ORDER BY id DESC LIMIT %s OFFSET %s",
            (*params, max(0, limit), max(0, offset)),
        )
        if tenant is None and status not in (JobStatus.PENDING, JobStatus.RUNNING):
            # Finished jobs are counted by the counters, not by scanning a million rows.
            counts = await self.counts()
            total = {
                None: counts.pending + counts.running + counts.done + counts.failed,
                JobStatus.DONE: counts.done,
                JobStatus.FAILED: counts.failed,
            }[status]
        else:
            total = int(
                (await self._fetch(f"SELECT count(*) AS n FROM jobs{clause}", params))[0]["n"]
            )
        return Page(jobs=[job_from_row(row) for row in rows], total=total)

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = %s ORDER BY seq", (job_id,)
        )
        return [event_from_row(row) for row in rows]

    async def counts(self) -> Counts:
        row = (await self._fetch(_COUNTS, prepare=True))[0]
        return Counts(**{name: int(value) for name, value in row.items()})

    async def throughput(self, minutes: int) -> list[ThroughputBucket]:
        rows = await self._fetch(_THROUGHPUT, (int(minutes),))
        return [ThroughputBucket(row["minute"], row["done"], row["failed"]) for row in rows]

    async def events_after(self, seq: int, limit: int = 1000) -> list[JobEvent]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM job_events WHERE seq > %s ORDER BY seq LIMIT %s",
            (seq, limit),
            prepare=True,
        )
        return [event_from_row(row) for row in rows]

    async def last_event_seq(self) -> int:
        rows = await self._fetch(
            "SELECT coalesce(max(seq), 0) AS seq FROM job_events", prepare=True
        )
        return int(rows[0]["seq"])

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        """Pushed by NOTIFY. While LISTEN is up the listener's seq is current (it read max(seq)
        when it started listening, and every commit since has notified it), so waiting costs
        no query; the database is read while LISTEN is down, and every few seconds of a long
        wait as a safety net."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listener = self._listener
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

    # -- workers ---------------------------------------------------------------------------
    async def lease(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        if limit <= 0 or not queues:
            return []
        return await self._call(workers.lease, worker, queues, limit, lease_for_sec)

    async def heartbeat(self, leases: Sequence[Lease], lease_for_sec: float) -> set[JobId]:
        if not leases:
            return set()
        return await self._call(workers.heartbeat, leases, lease_for_sec)

    async def finish(self, outcomes: Sequence[Outcome], worker: str) -> list[bool]:
        if not outcomes:
            return []
        return await self._call(workers.finish, outcomes, worker)

    async def release(self, leases: Sequence[Lease]) -> None:
        if leases:
            await self._call(workers.release, leases)

    async def rescue(self) -> list[JobId]:
        return await self._call(workers.rescue)

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._call(workers.register_worker, info)

    async def worker_seen(self, worker_id: str, running: int) -> None:
        await self._call(workers.worker_seen, worker_id, running)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._call(workers.unregister_worker, worker_id)

    async def list_workers(self, seen_within_sec: float) -> list[WorkerInfo]:
        return await self._call(workers.list_workers, seen_within_sec)


async def open_postgres(url: str) -> PostgresStore:
    """Connect, migrate the schema (safe when many processes start at once), open the pool
    and start listening. Raises `StoreUnavailable` when the server cannot be reached."""
    conninfo, options = parse_postgres_url(url)
    where = describe(conninfo)
    try:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await migrate(conn)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"postgres at {where}: {exc}") from exc
    except psycopg.Error as exc:  # a migration failed: its transaction was rolled back
        raise StoreError(f"postgres at {where}: migrating the schema failed: {exc}") from exc
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
        conninfo,
        connection_class=psycopg.AsyncConnection[Row],
        # Statements are prepared only when asked (see `_fetch`), never by count. (None
        # would switch preparing off altogether, `prepare=True` included.)
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": 2**31},
        min_size=options.pool_min_size,
        max_size=options.pool_max_size,
        timeout=options.pool_timeout,
        name="conveyor",
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=max(options.pool_timeout, options.connect_timeout))
    except psycopg.OperationalError as exc:
        await pool.close()
        raise StoreUnavailable(f"postgres at {where}: {exc}") from exc
    store = PostgresStore(pool, url, conninfo, options)
    store._listener.start()
    await store._listener.wait_connected(options.connect_timeout)
    return store


__all__ = ["PostgresStore", "open_postgres"]
