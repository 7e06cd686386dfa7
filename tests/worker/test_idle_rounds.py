"""An idle worker's lease rounds, on every driver: jobs that are due but held back (a capped
tenant at its cap) do not make a worker with free slots lease again every few milliseconds;
the end of a running job of that tenant still wakes it at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.models import JobStatus, NewJob
from conveyor.store.base import Store
from conveyor.tasks import task
from conveyor.worker import Worker
from tests.processes import until

FAST = {"text_seconds_per_char": 0.0, "worker_poll_ms": 60_000, "lease_timeout_sec": 30,
        "shutdown_grace_sec": 2, "worker_prefetch": 0}
"""A minute's poll: any lease round within the test was asked for by the worker itself or
by a wake-up, never by the fallback poll."""

_gates: dict[str, asyncio.Event] = {}
"""The test's own event (one made at import would belong to another test's loop)."""


@task("held_open")
async def held_open(payload: dict[str, Any]) -> None:
    """Runs until the test lets it end."""
    await _gates["release"].wait()


async def test_jobs_held_back_by_a_cap_do_not_spin_an_idle_worker(
    store: Store, run_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _gates["release"] = release = asyncio.Event()
    await store.set_tenant("capped", max_running=1)
    first = (await store.submit(NewJob("held_open", {}, tenant="capped"))).job
    waiting = [(await store.submit(NewJob("held_open", {}, tenant="capped"))).job
               for _ in range(2)]
    leases = 0
    lease = store.lease

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal leases
        leases += 1
        return await lease(*args, **kwargs)

    monkeypatch.setattr(store, "lease", counted)
    run_worker(worker_concurrency=3)

    async def first_running() -> bool:
        return (await store.get(first.id)).status is JobStatus.RUNNING

    await until(first_running, timeout=5, message="the first job never started")
    before = leases
    await asyncio.sleep(1.0)  # two jobs due, two free slots, the tenant at its cap
    rounds = leases - before
    assert rounds <= 15, f"{rounds} lease rounds in a second for jobs a cap holds back"
    for job in waiting:
        assert (await store.get(job.id)).status is JobStatus.PENDING

    began = time.monotonic()
    release.set()  # the first job ends: its tenant has room, and the worker is told

    async def next_running() -> bool:
        return any([(await store.get(job.id)).status is not JobStatus.PENDING
                    for job in waiting])

    await until(next_running, timeout=5, message="the capped tenant's next job never started")
    assert time.monotonic() - began < 2.0, "the next job waited for a poll, not a wake-up"
