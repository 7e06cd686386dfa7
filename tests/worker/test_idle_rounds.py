"""An idle worker's lease rounds, on every driver: jobs that are due but held back (a capped
tenant at its cap, its running job held by another worker) do not make a worker with free
slots lease again every few milliseconds, and the end of that job elsewhere wakes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.models import Ack, JobStatus, Lease, NewJob
from conveyor.store.base import Store
from conveyor.tasks import task
from conveyor.worker import Worker
from conveyor.worker import loop as worker_loop
from tests.processes import until

FAST = {"text_seconds_per_char": 0.0, "worker_poll_ms": 60_000, "lease_timeout_sec": 30,
        "shutdown_grace_sec": 2, "worker_prefetch": 0, "worker_concurrency": 3}
"""A minute's poll: any lease round within a test was asked for by the worker itself or by
a wake-up, never by the fallback poll."""

ELSEWHERE = "another-worker"


@task("quick")
async def quick(payload: dict[str, Any]) -> None:
    """Nothing: the test only watches when it starts."""


async def capped_backlog(store: Store) -> tuple[Lease, list[Any]]:
    """A tenant capped at one running job, held by another worker, and two more of its jobs
    due (so free slots elsewhere can take none of them)."""
    await store.set_tenant("capped", max_running=1)
    first = (await store.submit(NewJob("quick", {}, tenant="capped"))).job
    waiting = [(await store.submit(NewJob("quick", {}, tenant="capped"))).job
               for _ in range(2)]
    [lease] = await store.lease(ELSEWHERE, ["default"], 1, 30)
    assert lease.job_id == first.id
    return lease, waiting


class LeaseCount:
    """The store's lease calls, counted (the real store underneath)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.at: list[float] = []  # when each call was made
        lease = store.lease

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.at.append(time.monotonic())
            return await lease(*args, **kwargs)

        monkeypatch.setattr(store, "lease", counted)

    async def started(self) -> bool:
        return self.calls > 0

    async def slept_a_second(self) -> bool:
        """The last two rounds a second apart: the sleep now begun is twice that."""
        return len(self.at) >= 2 and self.at[-1] - self.at[-2] >= 1.0


async def test_jobs_held_back_by_a_cap_do_not_spin_an_idle_worker(
    store: Store, run_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, waiting = await capped_backlog(store)
    leases = LeaseCount(store, monkeypatch)
    run_worker()
    await until(leases.started, timeout=5, message="the worker never leased")
    before = leases.calls
    await asyncio.sleep(1.0)  # two jobs due, three free slots, the tenant at its cap
    rounds = leases.calls - before
    assert rounds <= 15, f"{rounds} lease rounds in a second for jobs a cap holds back"
    for job in waiting:
        assert (await store.get(job.id)).status is JobStatus.PENDING


async def test_a_capped_job_ending_elsewhere_wakes_a_backed_off_worker(
    store: Store, run_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backed off to seconds (the longest sleep raised to 30 s here), the worker starts the
    tenant's next job when the other worker's job ends: only a wake-up gets it there soon."""
    monkeypatch.setattr(worker_loop, "_HELD_BACK_MAX_SEC", 30.0)
    lease, waiting = await capped_backlog(store)
    leases = LeaseCount(store, monkeypatch)
    run_worker()
    await until(leases.started, timeout=5, message="the worker never leased")
    await until(leases.slept_a_second, timeout=10, message="the worker never backed off")
    began = time.monotonic()
    await store.finish([Ack(lease)], ELSEWHERE)

    async def next_started() -> bool:
        return any([(await store.get(job.id)).status is not JobStatus.PENDING
                    for job in waiting])

    await until(next_started, timeout=10, message="the capped tenant's next job never ran")
    took = time.monotonic() - began
    assert took < 0.5, f"the next job started {took:.2f} s after the cap freed: no wake-up"


async def test_a_backed_off_worker_wakes_for_a_job_coming_due(
    store: Store, run_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the cap full, a job of another tenant due in 1.5 s starts then: the worker sleeps
    no longer than until the next job comes due (`next_due(later_than=…)`). Doubling from the
    submit's wake-up alone, its sleeps would end at 1.02 s and 2.05 s: half a second late."""
    monkeypatch.setattr(worker_loop, "_HELD_BACK_MAX_SEC", 30.0)
    await capped_backlog(store)
    leases = LeaseCount(store, monkeypatch)
    run_worker()
    await until(leases.started, timeout=5, message="the worker never leased")
    later = (await store.submit(NewJob("quick", {}, tenant="free", delay_sec=1.5))).job

    async def finished() -> Any:
        job = await store.get(later.id)
        return job if job.status is JobStatus.DONE else None

    job = await until(finished, timeout=10, message="the scheduled job never ran")
    assert job.started_at is not None
    late = (job.started_at - job.run_at).total_seconds()
    assert late < 0.25, f"the job due in 1.5 s started {late:.2f} s late"
