"""Enqueueing from Python without HTTP: `conveyor.Queue` (blocking) and `conveyor.AsyncQueue`.

    from conveyor import Queue
    with Queue("postgresql://app@db/app") as queue:
        job = queue.enqueue("send_email", {"to": "a@b.c"}, idempotency_key="welcome-42")

Exactly the API's rules, from the same code (`conveyor.submitting`): the task's payload
model (or a typed task's signature) cleans the payload, `max_retries` defaults to
MAX_RETRIES, an Idempotency-Key reused with another body raises `IdempotencyConflict` (the
API's 409), the tenant's RATE_LIMIT_PER_MINUTE applies (`RateLimited`, the 429) and every job
gets a trace id. Settings come from the environment like every other process's
(`conveyor.config.Settings`), or are given.

A producer's store connection is made for producing (`connect_store(producer=True)`): it
checks the schema instead of migrating it (`SchemaOutdated` when it is older than this
library: run `conveyor migrate`), and on PostgreSQL it holds a small pool and no LISTEN
connection, so it receives no notifications.

Transactional enqueue (PostgreSQL): `enqueue(..., connection=conn)` with the application's
own psycopg connection writes the job inside the application's transaction; it exists only
if that commits, and workers are woken at the commit. See `store/postgres/transactional.py`
for what that costs while the transaction stays open.

`Queue` runs an `AsyncQueue` on a private event loop thread, so it works from any plain
(threaded) code; a transactional enqueue runs in the caller's thread, on its connection.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType, TracebackType
from typing import Any, TypeVar

from conveyor.config import Settings
from conveyor.errors import InvalidSubmission
from conveyor.models import Job, JobId, NewJob, RateLimit, UniqueWhile
from conveyor.store import Store, connect_store
from conveyor.submitting import new_job
from conveyor.tasks import Task, TaskRegistry
from conveyor.tenancy import rate_for

T = TypeVar("T")

TaskRef = str | Task[Any, Any]
"""A task by name, or the `@task` itself (whose payload model then applies here too)."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job of `enqueue_many`."""

    task: TaskRef
    payload: Mapping[str, Any] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    max_retries: int | None = None
    delay_sec: float = 0.0
    run_at: datetime | None = None
    timeout: float | None = None
    unique_key: str | None = None
    unique_fields: Sequence[str] | None = None
    unique_while: UniqueWhile | None = None


def _registry(tasks: TaskRegistry | Iterable[str | ModuleType] | None) -> TaskRegistry:
    if isinstance(tasks, TaskRegistry):
        return tasks
    registry = TaskRegistry()
    if tasks is not None:
        registry.include(*tasks)
    return registry


class AsyncQueue:
    """The producer API for async code. Opens its store on first use; `await close()` (or
    `async with`) when done."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        tasks: TaskRegistry | Iterable[str | ModuleType] | None = None,
        tenant: str = "default",
    ) -> None:
        base = settings or Settings()
        self.settings = base if database_url is None else base.model_copy(
            update={"database_url": database_url})
        self.tasks = _registry(tasks)
        self.tenant = tenant
        self._store: Store | None = None
        self._opening: asyncio.Lock | None = None

    async def __aenter__(self) -> AsyncQueue:
        await self.store()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def rate_for(self, tenant: str) -> RateLimit | None:
        """The tenant's limit: its `rate_per_minute` override, else RATE_LIMIT_PER_MINUTE
        (read from the store, shared with the API's processes: `conveyor.tenancy`)."""
        return await rate_for(await self.store(), tenant, self.settings.rate_limit_per_minute)

    async def store(self) -> Store:
        """The producer's store connection, opened on first use."""
        if self._store is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._store is None:
                    self._store = await connect_store(self.settings.database_url, producer=True)
        return self._store

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.close()

    # -- building jobs ------------------------------------------------------------------------
    def build(
        self,
        task: TaskRef,
        payload: Mapping[str, Any] | None = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_retries: int | None = None,
        delay_sec: float = 0.0,
        run_at: datetime | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        trace_id: str | None = None,
        unique_key: str | None = None,
        unique_fields: Sequence[str] | None = None,
        unique_while: UniqueWhile | None = None,
    ) -> NewJob:
        """The job `enqueue` would store (the API's rules; `InvalidSubmission` if refused).
        `unique_key` (or `unique_fields`, or the task's `unique_on`): while a job of the
        tenant with that key is pending (`unique_while="active"`: or running), `enqueue`
        returns that job instead of creating one."""
        if isinstance(task, Task):
            name, registry = task.name, TaskRegistry([task.definition])
        else:
            name, registry = task, self.tasks
        return new_job(
            name, payload or {}, tasks=registry, default_max_retries=self.settings.max_retries,
            tenant=tenant or self.tenant, queue=queue, priority=priority,
            max_retries=max_retries, delay_sec=delay_sec, run_at=run_at, timeout_sec=timeout,
            idempotency_key=idempotency_key, trace_id=trace_id or uuid.uuid4().hex,
            unique_key=unique_key, unique_fields=unique_fields, unique_while=unique_while,
        )

    def _many(self, jobs: Sequence[JobSpec], idempotency_key: str | None,
              tenant: str | None) -> list[NewJob]:
        trace_id = uuid.uuid4().hex  # one per batch, as `POST /jobs/batch` has its request's
        built = [
            self.build(spec.task, spec.payload, queue=spec.queue, priority=spec.priority,
                       max_retries=spec.max_retries, delay_sec=spec.delay_sec,
                       run_at=spec.run_at, timeout=spec.timeout, tenant=tenant,
                       trace_id=trace_id,
                       unique_key=spec.unique_key, unique_fields=spec.unique_fields,
                       unique_while=spec.unique_while,
                       idempotency_key=None if idempotency_key is None
                       else f"{idempotency_key}:{index}")
            for index, spec in enumerate(jobs)
        ]
        return built

    @staticmethod
    def _check_batch(built: Sequence[NewJob], rate: RateLimit | None) -> None:
        if rate is not None and len(built) > rate.per_minute:
            raise InvalidSubmission(f"a batch of {len(built)} jobs exceeds the per-tenant "
                                    f"limit of {rate.per_minute} jobs per minute")

    # -- the operations -----------------------------------------------------------------------
    async def enqueue(
        self,
        task: TaskRef,
        payload: Mapping[str, Any] | None = None,
        *,
        connection: Any = None,
        **options: Any,
    ) -> Job:
        """Submit one job (options as in `build`); the stored job, or for a repeated
        `idempotency_key` with the same body the job it created before. `connection`: a
        psycopg `AsyncConnection` whose transaction the job joins (PostgreSQL only)."""
        job = self.build(task, payload, **options)
        rate = await self.rate_for(job.tenant)
        if connection is not None:
            from conveyor.store.postgres.transactional import submit_on

            self._check_transactional(connection, blocking=False)
            [result] = await submit_on(connection, [job], rate)
            return result.job
        return (await (await self.store()).submit(job, rate)).job

    async def enqueue_many(
        self,
        jobs: Sequence[JobSpec],
        *,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        connection: Any = None,
    ) -> list[Job]:
        """Submit jobs in one transaction, all or none. With `idempotency_key`, job i uses
        `<key>:<i>` (as `POST /jobs/batch` does)."""
        if not jobs:
            return []
        built = self._many(jobs, idempotency_key, tenant)
        rate = await self.rate_for(tenant or self.tenant)
        self._check_batch(built, rate)
        if connection is not None:
            from conveyor.store.postgres.transactional import submit_on

            self._check_transactional(connection, blocking=False)
            return [result.job for result in await submit_on(connection, built, rate)]
        results = await (await self.store()).submit_many(built, rate)
        return [result.job for result in results]

    async def get(self, job_id: JobId | str) -> Job:
        return await (await self.store()).get(_job_id(job_id))

    async def cancel(self, job_id: JobId | str) -> Job:
        """See `Store.cancel`: a pending job is cancelled at once, a running one asked to
        stop; `InvalidTransition` for a finished one."""
        return await (await self.store()).cancel(_job_id(job_id))

    def _check_transactional(self, connection: Any, *, blocking: bool) -> None:
        if not self.settings.database_url.startswith(("postgresql", "postgres")):
            raise InvalidSubmission("enqueueing in the application's transaction needs "
                                    "PostgreSQL (DATABASE_URL is not a postgresql:// URL)")
        import psycopg

        wanted = psycopg.Connection if blocking else psycopg.AsyncConnection
        if not isinstance(connection, wanted):
            raise TypeError(f"connection must be a {wanted.__module__}.{wanted.__name__} "
                            f"(for SQLAlchemy, pass its driver connection)")


def _job_id(job_id: JobId | str) -> JobId:
    return job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))


class Queue:
    """The producer API for blocking code (see the module docstring); `close()` (or `with`)
    when done. Safe to share between threads."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        tasks: TaskRegistry | Iterable[str | ModuleType] | None = None,
        tenant: str = "default",
    ) -> None:
        self._async = AsyncQueue(database_url, settings=settings, tasks=tasks, tenant=tenant)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._async.settings

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        with self._started:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="conveyor-producer",
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
        async def run() -> T:
            return await call()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def enqueue(self, task: TaskRef, payload: Mapping[str, Any] | None = None, *,
                connection: Any = None, **options: Any) -> Job:
        """`AsyncQueue.enqueue`; `connection`: a psycopg `Connection` whose transaction the
        job joins (it runs in this thread, on that connection)."""
        if connection is not None:
            from conveyor.store.postgres.transactional import submit_on_blocking

            self._async._check_transactional(connection, blocking=True)
            job = self._async.build(task, payload, **options)
            rate = self._run(lambda: self._async.rate_for(job.tenant))
            [result] = submit_on_blocking(connection, [job], rate)
            return result.job
        return self._run(lambda: self._async.enqueue(task, payload, **options))

    def enqueue_many(self, jobs: Sequence[JobSpec], *, idempotency_key: str | None = None,
                     tenant: str | None = None, connection: Any = None) -> list[Job]:
        if connection is not None:
            from conveyor.store.postgres.transactional import submit_on_blocking

            self._async._check_transactional(connection, blocking=True)
            if not jobs:
                return []
            built = self._async._many(jobs, idempotency_key, tenant)
            rate = self._run(lambda: self._async.rate_for(tenant or self._async.tenant))
            self._async._check_batch(built, rate)
            return [result.job for result in submit_on_blocking(connection, built, rate)]
        return self._run(lambda: self._async.enqueue_many(
            jobs, idempotency_key=idempotency_key, tenant=tenant))

    def get(self, job_id: JobId | str) -> Job:
        return self._run(lambda: self._async.get(job_id))

    def cancel(self, job_id: JobId | str) -> Job:
        return self._run(lambda: self._async.cancel(job_id))

    def close(self) -> None:
        with self._started:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._async.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


# -- the process's default producers, for `Task.enqueue` ------------------------------------

_default: Queue | None = None
_default_lock = threading.Lock()
_async_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncQueue] = (
    weakref.WeakKeyDictionary())


def default_queue() -> Queue:
    """The `Queue` that `Task.enqueue` uses unless told otherwise: made on first use from the
    environment's settings (DATABASE_URL…), closed when the interpreter exits."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Queue()
            atexit.register(_default.close)
        return _default


def default_async_queue() -> AsyncQueue:
    """`default_queue` for `Task.enqueue_async`: one per event loop (a store belongs to the
    loop that opened it)."""
    loop = asyncio.get_running_loop()
    queue = _async_defaults.get(loop)
    if queue is None:
        queue = _async_defaults[loop] = AsyncQueue()
    return queue


__all__ = ["AsyncQueue", "JobSpec", "Queue", "default_async_queue", "default_queue"]
