"""Fair dispatch, run against every driver: round-robin by tenant, weights, caps on running
jobs, and per-tenant rate limits (docs/design.md, "Fair dispatch")."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from conveyor.errors import InvalidSubmission, RateLimited
from conveyor.models import Ack, Lease, NewJob
from conveyor.store import connect_store
from conveyor.store.base import Store, TenantSettings
from conveyor.tenancy import TenantRates, rate_for

LONG = 300.0


def job(tenant: str, text: str = "x", **kwargs: object) -> NewJob:
    return NewJob("text", {"text": text}, tenant=tenant, **kwargs)  # type: ignore[arg-type]


def tenants_of(leases: list[Lease]) -> Counter[str]:
    return Counter(lease.tenant for lease in leases)


async def lease_one_by_one(store: Store, rounds: int) -> list[str]:
    order: list[str] = []
    for _ in range(rounds):
        [lease] = await store.lease("w", ["default"], 1, LONG)
        order.append(lease.tenant)
    return order


async def test_one_job_at_a_time_alternates_between_tenants(store: Store) -> None:
    """A's backlog is older, yet B gets every second slot while both have jobs."""
    await store.submit_many([job("a", str(i)) for i in range(6)])
    await store.submit_many([job("b", str(i)) for i in range(3)])
    assert await lease_one_by_one(store, 9) == ["a", "b", "a", "b", "a", "b", "a", "a", "a"]


async def test_a_batch_is_shared_between_tenants(store: Store) -> None:
    await store.submit_many([job("a", str(i)) for i in range(50)])
    await store.submit_many([job("b", str(i)) for i in range(50)])
    await store.submit_many([job("c", str(i)) for i in range(2)])
    leases = await store.lease("w", ["default"], 10, LONG)
    assert tenants_of(leases) == {"a": 4, "b": 4, "c": 2}


async def test_the_tenant_holding_fewer_jobs_goes_first(store: Store) -> None:
    """A new tenant's job is leased in the next round, however large the other's backlog."""
    await store.submit_many([job("big", str(i)) for i in range(200)])
    assert tenants_of(await store.lease("w", ["default"], 20, LONG)) == {"big": 20}
    await store.submit(job("small"))
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.tenant == "small"


async def test_a_tenant_of_weight_two_gets_two_turns_to_one(store: Store) -> None:
    await store.set_tenant("heavy", weight=2)
    await store.submit_many([job("light", str(i)) for i in range(30)])
    await store.submit_many([job("heavy", str(i)) for i in range(30)])
    assert tenants_of(await store.lease("w", ["default"], 9, LONG)) == {"heavy": 6, "light": 3}
    order = await lease_one_by_one(store, 6)
    assert Counter(order) == {"heavy": 4, "light": 2}


async def test_priority_orders_a_tenant_s_own_jobs_not_the_turns(store: Store) -> None:
    """A's priority job goes first among A's, but does not take B's turn."""
    await store.submit_many([job("b", "b1"), job("b", "b2")])
    await store.submit_many([job("a", "low"), job("a", "high", priority=9),
                             job("a", "higher", priority=9)])
    leases = await store.lease("w", ["default"], 2, LONG)
    assert sorted(lease.payload["text"] for lease in leases) == ["b1", "high"]


async def test_one_tenant_keeps_priority_then_age(store: Store) -> None:
    ids = [(await store.submit(job("solo", str(p), priority=p))).job.id for p in range(4)]
    assert [lease.job_id for lease in await lease_many(store, 4)] == ids[::-1]
    old = (await store.submit(job("solo", "old"))).job
    await store.submit(job("solo", "new"))
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.job_id == old.id


async def lease_many(store: Store, count: int) -> list[Lease]:
    return [(await store.lease("w", ["default"], 1, LONG))[0] for _ in range(count)]


async def test_a_capped_tenant_never_holds_more_than_its_cap(store: Store) -> None:
    await store.set_tenant("capped", max_running=2)
    await store.submit_many([job("capped", str(i)) for i in range(10)])
    await store.submit_many([job("free", str(i)) for i in range(5)])
    leases = await store.lease("w", ["default"], 10, LONG)
    assert tenants_of(leases) == {"capped": 2, "free": 5}
    assert await store.lease("w", ["default"], 10, LONG) == []  # capped at 2, free is empty
    # Reserved jobs count as held: a worker's prefetch cannot get past the cap either.
    done = next(lease for lease in leases if lease.tenant == "capped")
    await store.finish([Ack(done)], "w")
    [reserved] = await store.reserve("w", ["default"], 5, LONG)
    assert reserved.tenant == "capped"
    assert await store.reserve("w", ["default"], 5, LONG) == []
    assert (await store.get_tenant("capped")).running == 1


async def test_a_cap_of_zero_holds_the_tenant_back_and_clearing_it_lets_go(store: Store) -> None:
    await store.set_tenant("held", max_running=0)
    await store.submit_many([job("held", str(i)) for i in range(3)])
    assert await store.lease("w", ["default"], 3, LONG) == []
    await store.set_tenant("held")  # every setting back to the default
    assert tenants_of(await store.lease("w", ["default"], 3, LONG)) == {"held": 3}


async def test_concurrent_leases_do_not_overshoot_a_cap(database_url: str) -> None:
    """Four stores (four workers' connections) lease at once from one capped tenant."""
    stores = [await connect_store(database_url) for _ in range(4)]
    try:
        await stores[0].set_tenant("capped", max_running=3)
        await stores[0].submit_many([job("capped", str(i)) for i in range(40)])
        batches = await asyncio.gather(*[
            store.lease(f"w{i}-{round}", ["default"], 5, LONG)
            for round in range(3) for i, store in enumerate(stores)])
        assert sum(len(batch) for batch in batches) == 3
        assert (await stores[0].get_tenant("capped")).running == 3
    finally:
        for store in stores:
            await store.close()


async def test_paused_queues_are_still_skipped(store: Store) -> None:
    await store.submit_many([job("a", queue="q1"), job("b", queue="q2")])
    await store.pause_queue("q1")
    leases = await store.lease("w", ["q1", "q2"], 5, LONG)
    assert [lease.tenant for lease in leases] == ["b"]


async def test_tenant_settings_and_figures(store: Store) -> None:
    fresh = await store.get_tenant("nobody")
    assert (fresh.settings, fresh.pending, fresh.running) == (TenantSettings(), 0, 0)
    info = await store.set_tenant("acme", weight=3, max_running=5, rate_per_minute=60)
    assert info.settings == TenantSettings(3, 5, 60)
    await store.submit_many([job("acme", str(i)) for i in range(3)])
    await store.submit(job("other"))
    await store.lease("w", ["default"], 1, LONG)  # one of the two tenants' jobs
    listed = {t.name: t for t in await store.list_tenants()}
    assert set(listed) == {"acme", "other"}
    assert listed["acme"].pending + listed["acme"].running == 3
    assert listed["acme"].running + listed["other"].running == 1
    assert await store.tenant_settings() == {"acme": TenantSettings(3, 5, 60)}
    cleared = await store.set_tenant("acme", rate_per_minute=None)
    assert cleared.settings == TenantSettings()
    assert await store.tenant_settings() == {}


@pytest.mark.parametrize("settings", [{"weight": 0}, {"max_running": -1},
                                      {"rate_per_minute": -5}, {"weight": 10_000}])
async def test_settings_out_of_range_are_refused(store: Store, settings: dict[str, int]) -> None:
    with pytest.raises(InvalidSubmission):
        await store.set_tenant("acme", **settings)


async def test_a_tenant_rate_overrides_the_default(store: Store) -> None:
    await store.set_tenant("slow", rate_per_minute=2)
    await store.set_tenant("exempt", rate_per_minute=0)
    rates = TenantRates(ttl_sec=60.0)
    slow = await rates.rate_for(store, "slow", 100)
    assert slow is not None and slow.per_minute == 2
    assert await rates.rate_for(store, "exempt", 100) is None  # 0: no limit for it
    other = await rates.rate_for(store, "other", 100)
    assert other is not None and other.per_minute == 100
    for i in range(2):
        await store.submit(job("slow", str(i)), slow)
    with pytest.raises(RateLimited):
        await store.submit(job("slow", "third"), slow)
    # Within its time to live the cache answers; once refreshed, it sees the change.
    await store.set_tenant("slow", rate_per_minute=50)
    cached = await rates.rate_for(store, "slow", 100)
    assert cached is not None and cached.per_minute == 2
    rates.forget()
    fresh = await rates.rate_for(store, "slow", 100)
    assert fresh is not None and fresh.per_minute == 50
    shared = await rate_for(store, "slow", 0)  # the process-wide cache of this store
    assert shared is not None and shared.per_minute == 50
