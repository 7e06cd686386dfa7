"""Fair dispatch with real `conveyor worker` processes, on every driver: a tenant with a
big backlog does not hold back another tenant's new job, and a tenant's cap on running jobs
holds across two workers (docs/design.md, "Fair dispatch")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.models import EventType, JobEvent, JobStatus, NewJob
from conveyor.store.base import Store
from tests.processes import ConveyorProcess, until

pytestmark = pytest.mark.slow

SLOTS = 4
PREFETCH = 2
WORKERS = 2


@pytest.fixture
def workers(tmp_path: Path, database_url: str) -> Iterator[list[ConveyorProcess]]:
    """Two workers of SLOTS slots; the text task takes 0.05 s a character."""
    env = {"DATABASE_URL": database_url, "WORKER_POLL_MS": "100", "RATE_LIMIT_PER_MINUTE": "0",
           "TEXT_SECONDS_PER_CHAR": "0.05", "WORKER_PREFETCH": str(PREFETCH)}
    started = [ConveyorProcess(["worker", "--concurrency", str(SLOTS)], env,
                               tmp_path / f"worker-{i}.log") for i in range(WORKERS)]
    yield started
    for process in started:
        process.kill()


def text_job(tenant: str, text: str = "ab") -> NewJob:
    return NewJob("text", {"text": text}, tenant=tenant)


async def all_events(store: Store) -> list[JobEvent]:
    events: list[JobEvent] = []
    while batch := await store.events_after(events[-1].seq if events else 0, 5000):
        events += batch
    return events


async def test_a_new_tenant_is_served_within_two_lease_rounds(
    store: Store, workers: list[ConveyorProcess]
) -> None:
    await store.submit_many([text_job("big") for _ in range(400)])

    async def busy() -> bool:  # both workers have every slot full of the backlog
        return (await store.get_tenant("big")).running >= WORKERS * SLOTS

    await until(busy, timeout=30, message="the backlog running on every slot")
    small = (await store.submit(text_job("small", "a"))).job

    async def started() -> bool:
        return (await store.get(small.id)).status is not JobStatus.PENDING

    await until(started, timeout=15, message="the small tenant's job started")
    events = await all_events(store)
    created = next(e.seq for e in events if e.job_id == small.id
                   and e.type is EventType.CREATED)
    leased = next(e.seq for e in events if e.job_id == small.id and e.type is EventType.LEASED)
    overtaken = [e for e in events if created < e.seq < leased and e.type is EventType.LEASED]
    # One lease round hands out at most every slot and prefetch of every worker; oldest-first
    # would have leased about 380 of the backlog first.
    assert len(overtaken) <= 2 * WORKERS * (SLOTS + PREFETCH), len(overtaken)
    assert (await store.get_tenant("big")).pending > 300  # the backlog was still there


async def test_a_tenant_cap_holds_across_two_workers(
    store: Store, workers: list[ConveyorProcess]
) -> None:
    cap = 3
    await store.set_tenant("capped", max_running=cap)
    jobs = [(await store.submit(text_job("capped"))).job for _ in range(24)]
    await store.submit_many([text_job("free") for _ in range(24)])
    samples: list[int] = []

    async def drained() -> bool:
        info = await store.get_tenant("capped")
        samples.append(info.running)
        return info.pending == 0 and info.running == 0

    await until(drained, timeout=60, interval=0.02, message="the capped tenant drained")
    assert max(samples) <= cap
    # Exact, from the event log (seq is commit order): running jobs of the tenant at every
    # moment, leased (+1) and finished (-1).
    ids = {job.id for job in jobs}
    running = peak = 0
    for event in await all_events(store):
        if event.job_id not in ids:
            continue
        if event.type is EventType.LEASED:
            running += 1
        elif event.type in (EventType.SUCCEEDED, EventType.FAILED, EventType.RETRY_SCHEDULED,
                            EventType.RELEASED, EventType.LEASE_EXPIRED):
            running -= 1
        peak = max(peak, running)
    assert peak == cap  # reached, never passed: the cap, not the slots, was the limit
    owners = {e.worker for e in await all_events(store) if e.type is EventType.LEASED}
    assert len(owners) == WORKERS, owners  # both workers were leasing all along
