"""The Store contract, run against every driver (see the `store` fixture)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conveyor.errors import IdempotencyConflict, InvalidTransition, JobNotFound, RateLimited
from conveyor.models import Ack, EventType, Fail, JobStatus, NewJob, RateLimit
from conveyor.store.base import Store, WorkerInfo
from conveyor.store.postgres.events import COPY_ROWS
from tests.store.sql import make_runnable_now

LONG = 300.0  # a lease that will not expire during a test


def text_job(text: str = "Hi", **kwargs: object) -> NewJob:
    return NewJob("text", {"text": text}, **kwargs)  # type: ignore[arg-type]


async def event_types(store: Store, job_id: uuid.UUID) -> list[str]:
    return [event.type.value for event in await store.job_events(job_id)]


async def test_submit_creates_pending_job_with_created_event(store: Store) -> None:
    result = await store.submit(text_job("Hello", tenant="acme", trace_id="t-1"))
    assert result.created
    job = await store.get(result.job.id)
    assert job.status is JobStatus.PENDING
    assert job.payload == {"text": "Hello"}
    assert (job.tenant, job.attempts, job.max_retries, job.trace_id) == ("acme", 0, 3, "t-1")
    assert await event_types(store, job.id) == ["job_created"]


async def test_get_unknown_job_raises(store: Store) -> None:
    with pytest.raises(JobNotFound):
        await store.get(uuid.uuid4())


async def test_idempotent_replay_returns_same_job_and_conflict_on_other_body(
    store: Store,
) -> None:
    first = await store.submit(text_job(idempotency_key="k1", request_hash="h1"))
    again = await store.submit(text_job(idempotency_key="k1", request_hash="h1"))
    assert again.created is False and again.job.id == first.job.id
    with pytest.raises(IdempotencyConflict):
        await store.submit(text_job("other", idempotency_key="k1", request_hash="h2"))
    other_tenant = await store.submit(
        text_job(tenant="t2", idempotency_key="k1", request_hash="h1")
    )
    assert other_tenant.created and other_tenant.job.id != first.job.id
    assert (await store.counts()).jobs_submitted == 2


async def test_concurrent_submits_with_one_key_create_one_job(store: Store) -> None:
    results = await asyncio.gather(*[
        store.submit(text_job(idempotency_key="same", request_hash="h")) for _ in range(10)
    ])
    assert len({r.job.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert (await store.list_jobs()).total == 1


async def test_rate_limit_per_tenant_and_replays_are_free(store: Store) -> None:
    rate = RateLimit(per_minute=3)
    for i in range(3):
        await store.submit(text_job(tenant="a", idempotency_key=f"k{i}", request_hash="h"), rate)
    with pytest.raises(RateLimited) as raised:
        await store.submit(text_job(tenant="a"), rate)
    assert 0 < raised.value.retry_after <= 20 + 1e-6  # one token per 20 s at 3/min
    replay = await store.submit(text_job(tenant="a", idempotency_key="k0", request_hash="h"),
                                rate)
    assert replay.created is False
    assert (await store.submit(text_job(tenant="b"), rate)).created
    assert (await store.list_jobs(tenant="a")).total == 3


async def test_submit_many_is_all_or_nothing(store: Store) -> None:
    results = await store.submit_many([text_job(str(i)) for i in range(5)])
    assert [r.job.payload["text"] for r in results] == [str(i) for i in range(5)]
    with pytest.raises(RateLimited):
        await store.submit_many([text_job(tenant="x") for _ in range(4)], RateLimit(3))
    assert (await store.list_jobs(tenant="x")).total == 0


BIG_BATCH = 150
"""Above PostgreSQL's `COPY_ROWS`: the batch path that writes by COPY and builds the jobs it
returns instead of reading them back (SQLite builds every keyless batch)."""
assert BIG_BATCH >= COPY_ROWS


def _varied_job(i: int, at: datetime | None) -> NewJob:
    # Keys out of jsonb's order (shorter first), floats that jsonb gives back as integers.
    return NewJob(
        "text", {"text": str(i), "tags": ("a", i), "more": {"x": [1.5, None, True], "é": "ü"},
                 "zz": 1e23, "a": [{"long key": -2.5e17, "k": 1e-7}]},
        tenant=f"t{i % 3}", queue="other" if i % 2 else "default", priority=i % 4,
        max_retries=i % 5, delay_sec=float(i % 7) * 10, trace_id=f"trace-{i}" if i % 2 else None,
        timeout_sec=2.5 if i % 3 == 0 else None, run_at=at,
    )


async def test_a_big_keyless_batch_returns_its_jobs_exactly_as_stored(store: Store) -> None:
    now = datetime.now(UTC)
    past, future = now - timedelta(hours=1), now + timedelta(hours=1)
    at = {5: past, 6: future.astimezone(timezone(timedelta(hours=5)))}
    jobs = [_varied_job(i, at.get(i)) for i in range(BIG_BATCH)]
    before, seq = await store.counts(), await store.last_event_seq()
    results = await store.submit_many(jobs)
    assert all(r.created and not r.unique_hit for r in results)
    assert len({r.job.id for r in results}) == BIG_BATCH
    assert [r.job.id for r in results] == sorted(r.job.id for r in results)
    for result in results:
        stored = await store.get(result.job.id)
        assert stored == result.job
        # `==` forgives an int for a float and another time zone: the wire form does not.
        assert json.dumps(stored.payload) == json.dumps(result.job.payload)
        assert [t.isoformat() for t in (stored.run_at, stored.created_at)] == [
            t.isoformat() for t in (result.job.run_at, result.job.created_at)]
    made = [r.job for r in results]
    assert made[0].payload["tags"] == ["a", 0] and made[0].payload["more"]["é"] == "ü"
    assert made[1].run_at - made[1].created_at == timedelta(seconds=10)
    assert made[5].run_at == made[5].created_at  # a time in the past runs now
    assert made[6].run_at == future
    assert (made[3].timeout_sec, made[3].trace_id, made[3].priority) == (2.5, "trace-3", 3)
    events = await store.events_after(seq, limit=1000)
    assert [e.job_id for e in events] == [job.id for job in made]
    assert {(e.type, e.status, e.attempt) for e in events} == {
        (EventType.CREATED, JobStatus.PENDING, 0)}
    assert [(e.tenant, e.task) for e in events] == [(job.tenant, job.task) for job in made]
    after = await store.counts()
    assert after.jobs_submitted - before.jobs_submitted == BIG_BATCH
    assert after.pending - before.pending == BIG_BATCH
    leased = await store.lease("w", ["default", "other"], BIG_BATCH, LONG)
    assert {lease.job_id for lease in leased} == {
        job.id for job in made if job.run_at <= datetime.now(UTC)}


async def test_a_big_batch_is_all_or_nothing_under_a_rate_limit(store: Store) -> None:
    rate = RateLimit(per_minute=BIG_BATCH + 50)
    first = await store.submit_many([text_job(str(i), tenant="x") for i in range(BIG_BATCH)], rate)
    assert len(first) == BIG_BATCH
    before, seq = await store.counts(), await store.last_event_seq()
    with pytest.raises(RateLimited):
        await store.submit_many([text_job(str(i), tenant="x") for i in range(BIG_BATCH)], rate)
    assert (await store.list_jobs(tenant="x")).total == BIG_BATCH
    assert await store.events_after(seq) == []
    assert await store.counts() == before
    assert (await store.submit(text_job(tenant="x"), rate)).created  # 50 tokens were left


async def test_lease_takes_priority_then_age_and_spends_an_attempt(store: Store) -> None:
    low = (await store.submit(text_job("low"))).job
    high = (await store.submit(text_job("high", priority=5))).job
    other_queue = (await store.submit(text_job("q", queue="other"))).job
    later = (await store.submit(text_job("later", delay_sec=3600))).job
    leases = await store.lease("w1", ["default"], 10, LONG)
    assert {lease.job_id for lease in leases} == {low.id, high.id}
    assert {lease.attempt for lease in leases} == {1}
    assert len({lease.token for lease in leases}) == 2
    assert (await store.get(high.id)).status is JobStatus.RUNNING
    assert (await store.get(high.id)).lease_owner == "w1"
    assert (await store.get(other_queue.id)).status is JobStatus.PENDING
    assert (await store.get(later.id)).status is JobStatus.PENDING
    assert await store.lease("w2", ["default"], 10, LONG) == []
    first = await store.lease("w2", ["other"], 1, LONG)
    assert [lease.job_id for lease in first] == [other_queue.id]


async def test_lease_respects_limit_and_priority_order(store: Store) -> None:
    ids = [(await store.submit(text_job(str(p), priority=p))).job.id for p in range(4)]
    leases = await store.lease("w", ["default"], 2, LONG)
    assert {lease.job_id for lease in leases} == {ids[3], ids[2]}


async def test_concurrent_leases_never_share_a_job(store: Store) -> None:
    await store.submit_many([text_job(str(i)) for i in range(40)])
    batches = await asyncio.gather(*[store.lease(f"w{i}", ["default"], 7, LONG)
                                     for i in range(8)])
    leased = [lease.job_id for batch in batches for lease in batch]
    assert len(leased) == 40 and len(set(leased)) == 40


async def test_ack_marks_done_once_and_records_runtime(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert await store.finish([Ack(lease, {"ok": True})], "w") == [True]
    done = await store.get(job.id)
    assert done.status is JobStatus.DONE and done.result == {"ok": True}
    assert done.finished_at is not None and done.lease_owner is None
    assert await store.finish([Ack(lease, None)], "w") == [False]  # already finished
    events = await store.job_events(job.id)
    assert [e.type for e in events] == [EventType.CREATED, EventType.LEASED, EventType.SUCCEEDED]
    assert "runtime" in events[-1].data and "wait" in events[1].data


async def test_failures_retry_with_backoff_then_dead_letter(store: Store) -> None:
    job = (await store.submit(text_job(max_retries=2))).job
    for attempt in (1, 2):
        [lease] = await store.lease("w", ["default"], 1, LONG)
        assert lease.attempt == attempt
        assert await store.finish([Fail(lease, f"boom {attempt}", retry_in_sec=3600)], "w") == [
            True
        ]
        retried = await store.get(job.id)
        assert retried.status is JobStatus.PENDING and retried.last_error == f"boom {attempt}"
        assert await store.lease("w", ["default"], 1, LONG) == []  # backoff not yet over
        await make_runnable_now(store, job.id)
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.attempt == 3
    assert await store.finish([Fail(lease, "boom 3", retry_in_sec=0)], "w") == [True]
    dead = await store.get(job.id)
    assert dead.status is JobStatus.FAILED and dead.attempts == 3
    assert dead.last_error == "boom 3"
    counts = await store.counts()
    assert (counts.failed, counts.dlq_count, counts.retries) == (1, 1, 2)
    assert (await event_types(store, job.id)).count("job_retry_scheduled") == 2
    assert (await event_types(store, job.id))[-1] == "job_failed"


async def test_permanent_failure_skips_retries(store: Store) -> None:
    job = (await store.submit(text_job(max_retries=5))).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Fail(lease, "bad input", permanent=True)], "w")
    dead = await store.get(job.id)
    assert (dead.status, dead.attempts, dead.last_error) == (JobStatus.FAILED, 1, "bad input")


async def test_late_ack_from_expired_lease_is_refused(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [stale] = await store.lease("w-old", ["default"], 1, 0.0)
    await _until_rescued(store, job.id)
    [fresh] = await store.lease("w-new", ["default"], 1, LONG)
    assert fresh.attempt == 2 and fresh.token != stale.token
    assert await store.finish([Ack(stale, "stale")], "w-old") == [False]
    assert await store.heartbeat([stale], LONG) == set()
    assert await store.finish([Ack(fresh, "fresh")], "w-new") == [True]
    done = await store.get(job.id)
    assert done.status is JobStatus.DONE and done.result == "fresh"
    assert (await event_types(store, job.id)).count("job_succeeded") == 1


async def _until_rescued(store: Store, job_id: uuid.UUID, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while job_id not in await store.rescue():
        assert loop.time() < deadline, "lease was never rescued"
        await asyncio.sleep(0.01)


async def test_rescue_only_takes_expired_leases_and_counts_an_attempt(store: Store) -> None:
    expired = (await store.submit(text_job("a"))).job
    live = (await store.submit(text_job("b"))).job
    [short] = await store.lease("w1", ["default"], 1, 0.0)
    [long] = await store.lease("w2", ["default"], 1, LONG)
    assert short.job_id == expired.id and long.job_id == live.id
    await _until_rescued(store, expired.id)
    assert (await store.get(live.id)).status is JobStatus.RUNNING
    rescued = await store.get(expired.id)
    assert rescued.status is JobStatus.PENDING and rescued.attempts == 1
    assert "lease expired" in (rescued.last_error or "")
    assert "job_lease_expired" in await event_types(store, expired.id)


async def test_rescue_dead_letters_when_attempts_are_spent(store: Store) -> None:
    job = (await store.submit(text_job(max_retries=0))).job
    await store.lease("w", ["default"], 1, 0.0)
    await _until_rescued(store, job.id)
    dead = await store.get(job.id)
    assert dead.status is JobStatus.FAILED and "lease expired" in (dead.last_error or "")


async def test_heartbeat_extends_only_held_leases(store: Store) -> None:
    await store.submit_many([text_job("a"), text_job("b"), text_job("c", queue="other")])
    [stale] = await store.lease("w-old", ["other"], 1, 0.0)
    await _until_rescued(store, stale.job_id)
    held = await store.lease("w", ["default"], 2, 1.0)
    before = [(await store.get(lease.job_id)).lease_expires_at for lease in held]
    assert await store.heartbeat([*held, stale], LONG) == {lease.job_id for lease in held}
    after = [(await store.get(lease.job_id)).lease_expires_at for lease in held]
    for renewed, original in zip(after, before, strict=True):
        assert renewed is not None and original is not None
        assert (renewed - original).total_seconds() > LONG / 2
    assert (await store.get(stale.job_id)).status is JobStatus.PENDING


async def test_release_hands_back_without_spending_an_attempt(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.release([lease])
    back = await store.get(job.id)
    assert back.status is JobStatus.PENDING and back.attempts == 0
    assert (await event_types(store, job.id))[-1] == "job_released"
    [again] = await store.lease("w", ["default"], 1, LONG)
    assert again.attempt == 1


async def test_retry_from_dlq_links_both_ways(store: Store) -> None:
    job = (await store.submit(text_job("x", tenant="acme"))).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    with pytest.raises(InvalidTransition):
        await store.retry(job.id)  # running
    await store.finish([Fail(lease, "nope", permanent=True)], "w")
    new = await store.retry(job.id, trace_id="t-retry")
    assert new.status is JobStatus.PENDING and new.retry_of == job.id
    assert (new.payload, new.tenant, new.trace_id) == (job.payload, "acme", "t-retry")
    assert (await store.get(job.id)).retried_by == new.id
    assert (await event_types(store, job.id))[-1] == "job_retried"
    with pytest.raises(InvalidTransition):
        await store.retry(job.id)  # already retried
    with pytest.raises(JobNotFound):
        await store.retry(uuid.uuid4())


async def test_retry_refuses_done_jobs(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Ack(lease, None)], "w")
    with pytest.raises(InvalidTransition):
        await store.retry(job.id)


async def test_list_jobs_filters_pages_newest_first(store: Store) -> None:
    ids = [(await store.submit(text_job(str(i)))).job.id for i in range(5)]
    await store.lease("w", ["default"], 2, LONG)
    page = await store.list_jobs(limit=2, offset=1)
    assert page.total == 5 and [job.id for job in page.jobs] == [ids[3], ids[2]]
    running = await store.list_jobs(status=JobStatus.RUNNING)
    assert {job.id for job in running.jobs} == {ids[0], ids[1]} and running.total == 2
    assert (await store.list_jobs(status=JobStatus.DONE)).total == 0


async def test_counts_and_throughput(store: Store) -> None:
    await store.submit_many([text_job(str(i)) for i in range(4)])
    leases = await store.lease("w", ["default"], 3, LONG)
    await store.finish([Ack(leases[0]), Fail(leases[1], "x", permanent=True)], "w")
    counts = await store.counts()
    assert (counts.pending, counts.running, counts.done, counts.failed) == (1, 1, 1, 1)
    assert counts.jobs_submitted == 4
    buckets = await store.throughput(60)
    assert sum(b.done for b in buckets) == 1 and sum(b.failed for b in buckets) == 1


async def test_events_after_follows_the_global_sequence(store: Store) -> None:
    start = await store.last_event_seq()
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Ack(lease)], "w")
    events = await store.events_after(start)
    assert [e.type.value for e in events] == ["job_created", "job_leased", "job_succeeded"]
    assert all(e.job_id == job.id for e in events)
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert await store.last_event_seq() == events[-1].seq
    assert await store.events_after(events[-1].seq) == []
    assert len(await store.events_after(start, limit=2)) == 2


async def test_wait_for_change_returns_on_new_event(store: Store) -> None:
    seq = await store.last_event_seq()
    waiter = asyncio.create_task(store.wait_for_change(seq, 10.0))
    await asyncio.sleep(0)
    await store.submit(text_job())
    assert await asyncio.wait_for(waiter, 5.0) > seq
    assert await store.wait_for_change(await store.last_event_seq(), 0.05) >= seq


async def test_workers_register_and_expire(store: Store) -> None:
    await store.register_worker(WorkerInfo("w1", "host", 123, ["default"], 5))
    await store.worker_seen("w1", 2)
    [seen] = await store.list_workers(60)
    assert (seen.id, seen.running, seen.concurrency, list(seen.queues)) == ("w1", 2, 5,
                                                                           ["default"])
    await store.unregister_worker("w1")
    assert await store.list_workers(60) == []


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_lease_takes_the_oldest_first_at_equal_priority(store: Store) -> None:
    ids = [(await store.submit(text_job(str(i)))).job.id for i in range(4)]
    first = await store.lease("w", ["default"], 2, LONG)
    assert {lease.job_id for lease in first} == set(ids[:2])


async def test_stale_fail_and_release_change_nothing(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [stale] = await store.lease("w-old", ["default"], 1, 0.0)
    await _until_rescued(store, job.id)
    [fresh] = await store.lease("w-new", ["default"], 1, LONG)
    assert await store.finish([Fail(stale, "late", permanent=True)], "w-old") == [False]
    await store.release([stale])
    current = await store.get(job.id)
    assert (current.status, current.lease_owner, current.attempts) == (JobStatus.RUNNING,
                                                                       "w-new", 2)
    assert await store.heartbeat([fresh], LONG) == {fresh.job_id}
