"""Helpers that keep the worker's side tasks honest and its store calls patient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from conveyor.aio import wait_event
from conveyor.errors import StoreUnavailable

T = TypeVar("T")


@asynccontextmanager
async def supervised(*side_tasks: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run side tasks beside the body. If one dies, the body is cancelled and the error
    propagates (a worker without heartbeats must not go on leasing); when the body ends,
    the side tasks are cancelled."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in side_tasks]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


class Outage:
    """Whether the store answers, as one worker sees it: one `store_unreachable` line when
    it stops (with the jobs the worker holds), one `store_reachable` when it answers again
    (with how long it did not), however many of the worker's loops notice."""

    def __init__(self, log: Any, worker_id: str,
                 held: Callable[[], list[str]] = lambda: []) -> None:
        self._log = log
        self._worker_id = worker_id
        self._held = held
        self.since: float | None = None
        """Monotonic time the current outage began; None while the store answers."""

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: StoreUnavailable) -> None:
        if self.since is None:
            self.since = time.monotonic()
            held = self._held()
            self._log.warning("store_unreachable", worker=self._worker_id, error=str(exc),
                              held=len(held), jobs=held[:20])

    def answered(self) -> None:
        if self.since is not None:
            self._log.info("store_reachable", worker=self._worker_id,
                           outage_sec=round(time.monotonic() - self.since, 3))
            self.since = None


class StoreRetry:
    """Exponential backoff (0.1 s doubling to 5 s) while the store is unreachable; the
    outage is logged by its `Outage` (its own, or the worker's, shared by all its loops)."""

    def __init__(self, log: Any, worker_id: str, outage: Outage | None = None) -> None:
        self.outage = outage if outage is not None else Outage(log, worker_id)
        self._delay = 0.0

    def succeeded(self) -> None:
        self.outage.answered()
        self._delay = 0.0

    async def failed(self, exc: StoreUnavailable, stop: asyncio.Event | None) -> None:
        self.outage.failed(exc)
        self._delay = min(5.0, max(0.1, self._delay * 2))
        if stop is None:
            await asyncio.sleep(self._delay)
            return
        await wait_event(stop, self._delay)

    async def call(self, fn: Callable[[], Awaitable[T]], stop: asyncio.Event | None) -> T:
        """Call until it succeeds. With `stop`, a set stop event still lets it try (so
        registering or flushing outcomes is not skipped), only the waits get shorter."""
        while True:
            try:
                result = await fn()
            except StoreUnavailable as exc:
                await self.failed(exc, stop)
                continue
            self.succeeded()
            return result
