"""Unique jobs, on every driver: while a job holds its (tenant, unique key), a submit with the
key returns that job (`unique_hit`) instead of creating one; every way a job leaves the
guarded states gives the key up, and no way back to `pending` (a retry, a rescue, a release,
a retry from the DLQ) collides with a newer holder or loses a job."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from conveyor.errors import InvalidSubmission, RateLimited
from conveyor.models import (
    Ack,
    Fail,
    JobStatus,
    Lease,
    NewJob,
    RateLimit,
    Started,
    UniqueWhile,
)
from conveyor.store import rules
from conveyor.store.base import Store
from tests.store.sql import make_runnable_now, run_raw

LONG = 300.0


def job(key: str | None = "k", holds: UniqueWhile = "pending", text: str = "hi",
        **kwargs: Any) -> NewJob:
    return NewJob("text", {"text": text}, unique_key=key, unique_while=holds, **kwargs)


async def guard_of(store: Store, job_id: uuid.UUID) -> object:
    [(guard,)] = await run_raw(store, f"SELECT unique_guard FROM jobs WHERE id = '{job_id}'")
    return guard


async def lease_one(store: Store, lease_for: float = LONG) -> Lease:
    [lease] = await store.lease("w", ["default"], 1, lease_for)
    return lease


async def rescued(store: Store, job_id: uuid.UUID) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while job_id not in await store.rescue():
        assert loop.time() < deadline, "never rescued"
        await asyncio.sleep(0.01)


async def test_a_second_submit_of_a_pending_key_returns_the_first_job(store: Store) -> None:
    first = await store.submit(job(text="one"))
    again = await store.submit(job(text="two"))  # another body: no comparison, unlike a key
    assert first.created and not first.unique_hit
    assert (again.created, again.unique_hit, again.job.id) == (False, True, first.job.id)
    assert again.job.payload == {"text": "one"}
    assert (first.job.unique_key, first.job.unique_while) == ("k", "pending")
    assert (await store.counts()).jobs_submitted == 1
    assert [e.type.value for e in await store.job_events(first.job.id)] == ["job_created"]
    other_tenant = await store.submit(job(tenant="t2"))
    assert other_tenant.created and other_tenant.job.id != first.job.id
    plain = await store.submit(job(key=None))
    assert plain.created and plain.job.unique_key is None and plain.job.unique_while is None


async def test_pending_keys_are_given_up_at_the_start_and_active_ones_at_the_end(
    store: Store,
) -> None:
    waiting = (await store.submit(job("p"))).job
    lease = await lease_one(store)
    assert lease.job_id == waiting.id
    assert await guard_of(store, waiting.id) is None
    assert (await store.submit(job("p"))).created  # running: no longer guarded

    active = (await store.submit(job("a", "active"))).job
    leases = await store.lease("w", ["default"], 10, LONG)
    held = next(each for each in leases if each.job_id == active.id)
    hit = await store.submit(job("a", "active"))
    assert hit.unique_hit and hit.job.id == active.id and hit.job.status is JobStatus.RUNNING
    await store.finish([Ack(held, None)], "w")
    assert await guard_of(store, active.id) is None
    assert (await store.submit(job("a", "active"))).created
    assert (await store.get(waiting.id)).unique_key == "p"  # the key stays on the job


async def test_a_retried_active_job_keeps_its_key(store: Store) -> None:
    first = (await store.submit(job("a", "active"))).job
    lease = await lease_one(store)
    await store.finish([Fail(lease, "boom", retry_in_sec=3600)], "w")
    assert (await store.get(first.id)).status is JobStatus.PENDING
    assert (await store.submit(job("a", "active"))).job.id == first.id


async def test_a_retryable_failure_back_to_pending_never_collides_with_a_newer_holder(
    store: Store,
) -> None:
    old = (await store.submit(job())).job
    lease = await lease_one(store)
    newer = (await store.submit(job())).job  # the key was free once `old` started
    assert await store.finish([Fail(lease, "boom", retry_in_sec=0.0)], "w") == [True]
    back = await store.get(old.id)
    assert back.status is JobStatus.PENDING and await guard_of(store, old.id) is None
    assert (await store.submit(job())).job.id == newer.id  # the newer one holds it
    assert (await store.counts()).pending == 2  # nothing lost


async def test_rescue_back_to_pending_never_collides_and_an_active_key_stays(
    store: Store,
) -> None:
    old = (await store.submit(job())).job
    await lease_one(store, lease_for=0.0)
    newer = (await store.submit(job())).job
    await rescued(store, old.id)
    assert (await store.get(old.id)).status is JobStatus.PENDING
    assert (await store.submit(job())).job.id == newer.id

    active = (await store.submit(job("a", "active"))).job
    await make_runnable_now(store, active.id)  # ahead of the two pending `k` jobs
    lease = await lease_one(store, lease_for=0.0)
    assert lease.job_id == active.id
    await rescued(store, active.id)
    assert (await store.submit(job("a", "active"))).job.id == active.id


async def test_release_back_to_pending_never_collides_with_a_newer_holder(store: Store) -> None:
    old = (await store.submit(job())).job
    lease = await lease_one(store)
    newer = (await store.submit(job())).job
    await store.release([lease])
    assert (await store.get(old.id)).status is JobStatus.PENDING
    assert (await store.submit(job())).job.id == newer.id
    assert (await store.counts()).pending == 2


async def test_a_reservation_holds_the_key_until_its_start(store: Store) -> None:
    first = (await store.submit(job())).job
    [held] = await store.reserve("w", ["default"], 1, LONG)
    assert (await store.submit(job())).job.id == first.id
    await store.start([Started(held)], LONG)
    assert (await store.submit(job())).created


async def test_a_cancelled_job_gives_its_key_up(store: Store) -> None:
    first = (await store.submit(job("a", "active"))).job
    await store.cancel(first.id)
    assert (await store.submit(job("a", "active"))).created


async def test_a_dlq_retry_holds_the_key_if_free_and_is_never_refused(store: Store) -> None:
    dead = (await store.submit(job())).job
    await store.finish([Fail(await lease_one(store), "bad", permanent=True)], "w")
    holder = (await store.submit(job())).job
    copy = await store.retry(dead.id)  # a live job holds `k`: the copy runs without it
    assert copy.status is JobStatus.PENDING and copy.unique_key == "k"
    assert await guard_of(store, copy.id) is None
    assert (await store.submit(job())).job.id == holder.id

    await store.cancel(holder.id)
    await store.cancel(copy.id)
    again = await store.retry(holder.id)  # the key is free now: the copy holds it
    assert (again.unique_key, again.unique_while) == ("k", "pending")
    assert (await store.submit(job())).job.id == again.id


async def test_a_batch_with_one_key_twice_creates_one_job(store: Store) -> None:
    for rate in (None, RateLimit(100)):
        key = f"batch-{rate}"
        results = await store.submit_many([job(key), job(None), job(key, text="again")], rate)
        assert [r.created for r in results] == [True, True, False]
        assert results[2].unique_hit and results[2].job.id == results[0].job.id
        assert (await store.submit_many([job(key)], rate))[0].job.id == results[0].job.id


@pytest.mark.parametrize("limited", [False, True])
async def test_concurrent_submits_of_one_key_create_one_job(store: Store, limited: bool) -> None:
    rate = RateLimit(100) if limited else None
    results = await asyncio.gather(*[store.submit(job(text=str(i)), rate) for i in range(20)])
    assert sum(r.created for r in results) == 1
    assert sum(r.unique_hit for r in results) == 19
    assert len({r.job.id for r in results}) == 1
    assert (await store.list_jobs()).total == 1


async def test_hits_spend_no_token_and_a_refused_holder_refuses_its_hits(store: Store) -> None:
    rate = RateLimit(2)
    await store.submit(job("a"), rate)
    for _ in range(3):
        assert (await store.submit(job("a"), rate)).unique_hit
    await store.submit(job("b"), rate)  # the second token
    with pytest.raises(RateLimited):
        await store.submit(job("c"), rate)
    outcomes = await asyncio.gather(*[store.submit(job("d"), rate) for _ in range(3)],
                                    return_exceptions=True)
    assert all(isinstance(each, RateLimited) for each in outcomes)
    assert (await store.list_jobs()).total == 2


async def test_an_idempotency_key_is_looked_at_first(store: Store) -> None:
    first = await store.submit(job("u", idempotency_key="i", request_hash="h"))
    replay = await store.submit(job("u", idempotency_key="i", request_hash="h"))
    assert (replay.created, replay.unique_hit, replay.job.id) == (False, False, first.job.id)
    hit = await store.submit(job("u", idempotency_key="other", request_hash="h"))
    assert (hit.unique_hit, hit.job.id) == (True, first.job.id)


@pytest.mark.parametrize("key", ["", "x" * 201, "nul\x00", "\ud800"])
async def test_keys_no_store_can_index_are_refused(store: Store, key: str) -> None:
    with pytest.raises(InvalidSubmission):
        await store.submit(job(key))
    assert (await store.list_jobs()).total == 0


@pytest.mark.parametrize("holds", ["pending", "active"])
async def test_the_trigger_gives_the_key_up_exactly_where_the_rule_says(
    store: Store, holds: UniqueWhile,
) -> None:
    """The migrations' `jobs_unique_release` trigger against `rules.unique_holds`, for every
    status a job can be moved to (running before pending, so a pending key is gone first)."""
    created = (await store.submit(job(f"rule-{holds}", holds))).job
    for status in ("running", "pending", "running", "done", "pending"):
        before = await guard_of(store, created.id)
        await run_raw(store, f"UPDATE jobs SET status = '{status}' WHERE id = '{created.id}'")
        expected = before is not None and rules.unique_holds(status, holds)
        assert (await guard_of(store, created.id) is not None) is expected, status
    for status in ("pending", "running", "done", "failed", "cancelled"):
        fresh = (await store.submit(job(f"{status}-{holds}", holds))).job
        await run_raw(store, f"UPDATE jobs SET status = '{status}' WHERE id = '{fresh.id}'")
        held = await guard_of(store, fresh.id) is not None
        assert held is rules.unique_holds(status, holds), status
