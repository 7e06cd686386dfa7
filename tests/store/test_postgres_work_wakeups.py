"""PostgreSQL: workers are woken by work, not by every event (`WORK_CHANNEL`).

A waiting worker's mark (`wait_for_work`) has no poll while its LISTEN is up, so a mark that
moves was moved by a NOTIFY. Notifications arrive in commit order, so a change is counted
between two marking submits: its notices are those between theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from conveyor.models import Ack, Fail, Lease, NewJob, Started
from conveyor.store.postgres import PostgresStore, open_postgres
from tests.pgsupport import until

pytestmark = pytest.mark.postgres

WORKER = "w-1"
LEASE_FOR = 30.0


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """(the waiting worker's store, the store that acts): two processes' worth."""
    waiter, actor = await open_postgres(postgres_url), await open_postgres(postgres_url)
    try:
        yield waiter, actor
    finally:
        await waiter.close()
        await actor.close()


def job(tenant: str = "default", queue: str = "default") -> NewJob:
    return NewJob("text", {"text": "x"}, tenant=tenant, queue=queue)


async def notices(waiter: PostgresStore, actor: PostgresStore,
                  change: Callable[[], Awaitable[object]]) -> int:
    """Notices the waiter got for `change` alone: the notices between a marking submit
    before it and one after it (each marker gives one), less the second marker's."""
    before = await settled(waiter, actor)
    await change()
    return await settled(waiter, actor) - before - 1


async def settled(waiter: PostgresStore, actor: PostgresStore) -> int:
    """The waiter's notices once a submit made now has reached it (and so has everything
    committed before it)."""
    await waiter.wait_for_work(0, 0)
    assert waiter._work_listener.connected, "the work listener never connected"
    marker = await actor.submit(job(queue="marker"))
    seq = await marker_seq(actor, marker.job.id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    mark = 0
    while waiter._work_listener.newest_seq < seq:
        assert loop.time() < deadline, "the marking submit never woke the waiter"
        mark = await waiter.wait_for_work(mark, deadline - loop.time())
    return waiter._work_listener.notices


async def marker_seq(store: PostgresStore, job_id: object) -> int:
    [row] = await store.run_sql("SELECT max(seq) AS seq FROM job_events WHERE job_id = %s",
                                (job_id,))
    return int(row["seq"])


async def test_leases_acks_and_heartbeats_wake_no_worker(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    waiter, actor = stores
    await actor.submit_many([job() for _ in range(4)])
    leases: list[Lease] = []

    async def lease() -> None:
        leases.extend(await actor.lease(WORKER, ["default"], 2, LEASE_FOR))

    assert await notices(waiter, actor, lease) == 0
    assert await notices(waiter, actor, lambda: actor.heartbeat(leases, LEASE_FOR)) == 0
    reserved: list[Lease] = []

    async def reserve() -> None:
        reserved.extend(await actor.reserve(WORKER, ["default"], 2, LEASE_FOR))

    assert await notices(waiter, actor, reserve) == 0
    assert await notices(waiter, actor, lambda: actor.start(
        [Started(lease, 0.0) for lease in reserved], LEASE_FOR)) == 0
    assert await notices(waiter, actor, lambda: actor.finish(
        [Ack(lease) for lease in leases], WORKER)) == 0
    assert await notices(waiter, actor, lambda: actor.pause_queue("default")) == 0


async def test_changes_that_make_jobs_leasable_wake_workers(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    waiter, actor = stores
    assert await notices(waiter, actor, lambda: actor.submit(job())) == 1
    assert await notices(waiter, actor, lambda: actor.submit_many(
        [job() for _ in range(100)])) == 1  # by COPY
    [lease] = await actor.lease(WORKER, ["default"], 1, LEASE_FOR)
    assert await notices(waiter, actor, lambda: actor.finish(
        [Fail(lease, "boom", retry_in_sec=0.0)], WORKER)) == 1  # pending again
    [lease] = await actor.lease(WORKER, ["default"], 1, LEASE_FOR)
    assert await notices(waiter, actor, lambda: actor.release([lease])) == 1
    reserved = await actor.reserve(WORKER, ["default"], 2, LEASE_FOR)
    assert await notices(waiter, actor, lambda: actor.release(reserved)) == 1
    await actor.lease(WORKER, ["default"], 1, 0.01)

    async def rescue() -> None:  # once the lease has expired (a rescue of nothing is silent)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not await actor.rescue():
            assert loop.time() < deadline, "the lease never expired"
            await asyncio.sleep(0.01)

    assert await notices(waiter, actor, rescue) == 1
    await actor.pause_queue("default")
    assert await notices(waiter, actor, lambda: actor.resume_queue("default")) == 1
    assert await notices(waiter, actor, lambda: actor.set_tenant(
        "acme", max_running=1)) == 1


async def test_a_capped_tenants_finished_job_wakes_workers(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    """Its slot under `max_running` is free: another of its jobs may be leased now."""
    waiter, actor = stores
    await actor.set_tenant("acme", max_running=1)
    await actor.submit_many([job("acme"), job("acme")])
    [lease] = await actor.lease(WORKER, ["default"], 2, LEASE_FOR)
    assert await notices(waiter, actor, lambda: actor.finish([Ack(lease)], WORKER)) == 1
    [reserved] = await actor.reserve(WORKER, ["default"], 2, LEASE_FOR)
    assert await notices(waiter, actor, lambda: actor.cancel(reserved.job_id)) == 1
    plain = await actor.submit(job("other"))
    assert await notices(waiter, actor, lambda: actor.cancel(plain.job.id)) == 0


async def test_a_worker_listens_for_work_only(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    """A store that only waits for work and cancel requests (a worker's) opens no events
    listener; one that follows the event log (the API's) opens no work listener."""
    waiter, actor = stores
    waiter.on_cancel(lambda job_id: None)
    await waiter.wait_for_work(0, 0)
    await actor.wait_for_change(0, 0)
    await until(lambda: waiter._work_listener.connected and actor._listener.connected,
                message="the listeners never connected")
    assert not waiter._listener.started and not actor._work_listener.started
    rows = await actor.run_sql(
        "SELECT application_name AS name, count(*) AS n FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'conveyor-%%listener'"
        " GROUP BY 1 ORDER BY 1")
    assert [(row["name"], row["n"]) for row in rows] == [
        ("conveyor-listener", 1), ("conveyor-work-listener", 1)]
