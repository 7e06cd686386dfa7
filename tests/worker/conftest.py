"""The in-process worker fixture: `run_worker(**settings)` starts a `Worker` on the test's
store with the tasks of the test's own module and its `FAST` settings (overridable), and
stops every worker it started at the end of the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.runtime import build_registry
from conveyor.store.base import Store
from conveyor.worker import Worker


@pytest.fixture
async def run_worker(
    store: Store, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Worker]]:
    running: list[tuple[Worker, asyncio.Task[None]]] = []
    module = request.module

    def start(**overrides: Any) -> Worker:
        settings = Settings(**{**module.FAST, **overrides})
        worker = Worker(store, settings, build_registry(settings, [module]))
        running.append((worker, asyncio.create_task(worker.run())))
        return worker

    yield start
    for worker, job in running:
        worker.stop()
        await asyncio.wait_for(job, 10)
