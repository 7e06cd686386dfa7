"""Reservations (prefetch), on every driver: jobs held ahead of a free slot stay `pending`
with no event until `start`, are skipped by other workers, renewed by heartbeats, handed back
by `release` and freed by `rescue` once expired."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

from conveyor.models import Ack, Fail, JobStatus, NewJob, Started
from conveyor.store.base import Store

LONG = 300.0


async def submit(store: Store, n: int = 1) -> list[uuid.UUID]:
    return [(await store.submit(NewJob("text", {"text": f"j{i}"}))).job.id for i in range(n)]


async def event_types(store: Store, job_id: uuid.UUID) -> list[str]:
    return [event.type.value for event in await store.job_events(job_id)]


async def test_a_reserved_job_stays_pending_without_an_event_and_no_one_else_takes_it(
    store: Store,
) -> None:
    first, second = await submit(store, 2)
    [held] = await store.reserve("w1", ["default"], 1, LONG)
    assert held.job_id == first and held.attempt == 1
    job = await store.get(first)
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.PENDING, 0, "w1")
    assert await event_types(store, first) == ["job_created"]
    assert (await store.counts()).pending == 2
    others = await store.lease("w2", ["default"], 10, LONG)
    assert [lease.job_id for lease in others] == [second]
    assert await store.reserve("w2", ["default"], 10, LONG) == []


async def test_start_makes_a_reserved_job_running_and_it_finishes_like_a_lease(
    store: Store,
) -> None:
    [job_id] = await submit(store)
    [held] = await store.reserve("w1", ["default"], 1, LONG)
    assert await store.finish([Ack(held, None)], "w1") == [False]  # not started: refused
    assert await store.start([Started(held)], LONG) == {job_id}
    job = await store.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    events = await store.job_events(job_id)
    assert [e.type.value for e in events] == ["job_created", "job_leased"]
    assert events[-1].worker == "w1" and events[-1].attempt == 1
    assert await store.start([Started(held)], LONG) == set()  # once
    counts = await store.counts()
    assert (counts.pending, counts.running) == (0, 1)
    assert await store.finish([Ack(held, "ok")], "w1") == [True]
    assert (await store.get(job_id)).status is JobStatus.DONE


async def test_heartbeats_renew_reservations_and_release_hands_them_back(store: Store) -> None:
    [job_id] = await submit(store)
    [held] = await store.reserve("w1", ["default"], 1, LONG)
    assert await store.heartbeat([held], LONG) == {job_id}
    await store.release([held])
    job = await store.get(job_id)
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.PENDING, 0, None)
    assert await event_types(store, job_id) == ["job_created"]
    assert await store.heartbeat([held], LONG) == set()  # lost
    assert await store.start([Started(held)], LONG) == set()
    [leased] = await store.lease("w2", ["default"], 1, LONG)
    assert leased.job_id == job_id and leased.attempt == 1


async def test_rescue_frees_an_expired_reservation_without_spending_an_attempt(
    store: Store,
) -> None:
    [job_id] = await submit(store)
    [held] = await store.reserve("w1", ["default"], 1, 0.05)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        assert job_id not in await store.rescue()  # not a rescue of a run: nothing ran
        if (await store.get(job_id)).lease_owner is None:
            break
        assert loop.time() < deadline, "the reservation never expired"
        await asyncio.sleep(0.05)
    assert await store.start([Started(held)], LONG) == set()
    assert await event_types(store, job_id) == ["job_created"]
    [leased] = await store.lease("w2", ["default"], 1, LONG)
    assert leased.job_id == job_id and leased.attempt == 1


async def test_finish_starts_reservations_first_and_keeps_when_they_began(
    store: Store,
) -> None:
    [job_id] = await submit(store)
    [held] = await store.reserve("w1", ["default"], 1, LONG)
    applied = await store.finish([Ack(held, "ok")], "w1", [Started(held, ago_sec=2.0)], LONG)
    assert applied == [True]
    job = await store.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)
    assert job.started_at is not None and job.finished_at is not None
    assert (job.finished_at - job.started_at).total_seconds() >= 2.0
    events = await store.job_events(job_id)
    assert [e.type.value for e in events] == ["job_created", "job_leased", "job_succeeded"]
    assert events[-1].data["runtime"] >= 2.0
    counts = await store.counts()
    assert (counts.pending, counts.running, counts.done) == (0, 0, 1)


async def test_finish_starts_other_jobs_and_writes_outcomes_in_one_call(store: Store) -> None:
    """What a worker's flush sends: starts of reserved jobs beside outcomes of other jobs,
    some of each no longer held."""
    ran, failed, lost_run, reserved, lost_reservation = await submit(store, 5)
    leases = await store.lease("w1", ["default"], 3, LONG)
    assert [lease.job_id for lease in leases] == [ran, failed, lost_run]
    ran_lease, failed_lease, lost_run_lease = leases
    held, lost_held = await store.reserve("w1", ["default"], 2, LONG)
    assert (held.job_id, lost_held.job_id) == (reserved, lost_reservation)
    stale = uuid.uuid4()  # a token that no longer holds (another worker's by now)
    applied = await store.finish(
        [Ack(ran_lease, {"n": 1}), Fail(failed_lease, "boom", retry_in_sec=60.0),
         Ack(replace(lost_run_lease, token=stale))],
        "w1",
        [Started(held, ago_sec=1.0),
         Started(replace(lost_held, token=stale))],
        LONG,
    )
    assert applied == [True, True, False]
    assert (await store.get(ran)).status == JobStatus.DONE
    assert (await store.get(ran)).result == {"n": 1}
    assert (await store.get(failed)).status == JobStatus.PENDING
    assert (await store.get(lost_run)).status == JobStatus.RUNNING
    started = await store.get(reserved)
    assert (started.status, started.attempts) == (JobStatus.RUNNING, 1)
    assert started.started_at is not None
    assert (await store.get(lost_reservation)).status == JobStatus.PENDING
    assert await event_types(store, ran) == ["job_created", "job_leased", "job_succeeded"]
    assert await event_types(store, failed) == [
        "job_created", "job_leased", "job_retry_scheduled"]
    assert await event_types(store, reserved) == ["job_created", "job_leased"]
    assert await event_types(store, lost_reservation) == ["job_created"]
    counts = await store.counts()
    assert (counts.pending, counts.running, counts.done) == (2, 2, 1)
    # The started job finishes like any other.
    assert await store.finish([Ack(held)], "w1") == [True]
    assert (await store.get(reserved)).status == JobStatus.DONE
