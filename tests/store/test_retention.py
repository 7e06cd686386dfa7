"""Retention (`Store.prune`, `Store.retention_state`) on every driver: exactly the finished jobs
past their status's age go, with their events; counters stay right; retry chains, the newest
event and the live feed are handled as the protocol says; one holder prunes at a time.

Jobs are aged by moving `finished_at` back in SQL (STYLE.md §5: move time, never sleep)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import pytest

from conveyor.errors import JobNotFound
from conveyor.models import Ack, Fail, Job, JobId, JobStatus, NewJob
from conveyor.store.base import RetentionPolicy, Store
from tests.store.sql import store_url

LONG = 300.0
DONE, FAILED, CANCELLED = JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED
POLICY = RetentionPolicy.of({DONE: 7, FAILED: 30})  # cancelled: kept forever


def text_job(text: str = "Hi") -> NewJob:
    return NewJob("text", {"text": text})


async def age(store: Store, job_id: JobId, days: float) -> None:
    """Move a finished job's `finished_at` (and `created_at`) `days` into the past."""
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE jobs SET finished_at = finished_at - ?,"
                             " created_at = created_at - ? WHERE id = ?",
                             (days * 86400, days * 86400, str(job_id)))
        await asyncio.to_thread(run)
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        await conn.execute(
            "UPDATE jobs SET finished_at = finished_at - make_interval(secs => %s),"
            " created_at = created_at - make_interval(secs => %s) WHERE id = %s",
            (days * 86400, days * 86400, job_id))


async def finished(store: Store, status: JobStatus, days_ago: float = 0.0) -> Job:
    """A job that ended `status`, `days_ago` days ago."""
    job = (await store.submit(text_job(status.value))).job
    if status is CANCELLED:
        await store.cancel(job.id)
    else:
        [lease] = await store.lease("w", ["default"], 1, LONG)
        assert lease.job_id == job.id
        outcome = Ack(lease, None) if status is DONE else Fail(lease, "no", permanent=True)
        assert await store.finish([outcome], "w") == [True]
    if days_ago:
        await age(store, job.id, days_ago)
    return await store.get(job.id)


async def prune_all(store: Store, policy: RetentionPolicy = POLICY, limit: int = 100,
                    holder: str = "w1") -> dict[JobStatus, int]:
    """Batches until one comes back empty; the jobs deleted by status."""
    total: dict[JobStatus, int] = {}
    for _ in range(100):
        pruned = await store.prune(policy, holder, limit, LONG)
        assert pruned.held
        if not pruned.total:
            return total
        for status, n in pruned.jobs.items():
            total[status] = total.get(status, 0) + n
    raise AssertionError("prune never came back empty")


async def stored(store: Store, ids: Sequence[JobId]) -> set[JobId]:
    kept = set()
    for job_id in ids:
        try:
            await store.get(job_id)
        except JobNotFound:
            continue
        kept.add(job_id)
    return kept


async def test_an_empty_policy_prunes_nothing(store: Store) -> None:
    old = await finished(store, DONE, days_ago=1000)
    await store.submit(text_job("newest"))
    pruned = await store.prune(RetentionPolicy.of({DONE: None, FAILED: 0}), "w1", 100, LONG)
    assert not pruned.held and pruned.total == 0
    assert (await store.get(old.id)).status is DONE
    assert (await store.retention_state()).last_run_at is None


async def test_exactly_the_jobs_past_their_status_age_go_with_their_events(
    store: Store,
) -> None:
    done_old = await finished(store, DONE, days_ago=8)
    done_young = await finished(store, DONE, days_ago=6)
    failed_mid = await finished(store, FAILED, days_ago=10)  # past done's 7, not failed's 30
    failed_old = await finished(store, FAILED, days_ago=31)
    cancelled_old = await finished(store, CANCELLED, days_ago=1000)  # no cancelled retention
    running = (await store.submit(text_job("running"))).job
    await store.lease("w", ["default"], 1, LONG)
    pending = (await store.submit(text_job("pending"))).job
    before = await store.counts()
    seq_before = await store.last_event_seq()

    assert await prune_all(store) == {DONE: 1, FAILED: 1}

    every = [done_old.id, done_young.id, failed_mid.id, failed_old.id, cancelled_old.id,
             running.id, pending.id]
    assert await stored(store, every) == {
        done_young.id, failed_mid.id, cancelled_old.id, running.id, pending.id}
    assert await store.job_events(done_old.id) == []
    assert await store.job_events(failed_old.id) == []
    assert [e.type.value for e in await store.job_events(done_young.id)] == [
        "job_created", "job_leased", "job_succeeded"]
    after = await store.counts()
    # Cumulative figures do not go back; the pruned ones are counted apart.
    assert after.jobs_submitted == before.jobs_submitted == 7
    assert (after.done, after.failed, after.cancelled) == (before.done, before.failed, 1)
    assert (after.pending, after.running, after.retries) == (1, 1, 0)
    assert after.pruned == {DONE: 1, FAILED: 1}
    # List totals are the rows stored now.
    assert (await store.list_jobs(status=DONE)).total == 1
    assert (await store.list_jobs(status=FAILED)).total == 1
    assert (await store.list_jobs()).total == 5 == len((await store.list_jobs(limit=50)).jobs)
    assert await store.last_event_seq() == seq_before
    state = await store.retention_state()
    assert state.pruned == {DONE: 1, FAILED: 1} and state.holder == "w1"
    assert state.last_run_at is not None


async def test_per_status_overrides_and_batches(store: Store) -> None:
    cancelled = [await finished(store, CANCELLED, days_ago=2) for _ in range(5)]
    done = await finished(store, DONE, days_ago=2)
    await store.submit(text_job("newest"))
    policy = RetentionPolicy.of({CANCELLED: 1})
    sizes = []
    while (pruned := await store.prune(policy, "w1", 2, LONG)).total:
        sizes.append(pruned.total)
        assert set(pruned.jobs) == {CANCELLED} and pruned.events == 2 * pruned.total
    assert sizes == [2, 2, 1]
    assert await stored(store, [job.id for job in cancelled]) == set()
    assert (await store.get(done.id)).status is DONE
    counts = await store.counts()
    assert counts.cancelled == 5 and counts.pruned == {CANCELLED: 5}
    assert (await store.list_jobs(status=CANCELLED)).total == 0


async def test_a_retried_job_stays_while_its_retry_runs_and_the_chain_goes_oldest_first(
    store: Store,
) -> None:
    original = await finished(store, FAILED, days_ago=40)
    retry = await store.retry(original.id)
    await store.submit(text_job("newest"))

    assert await prune_all(store) == {}  # its retry is pending: the original stays
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.job_id == retry.id
    await store.finish([Ack(lease, None)], "w")
    await age(store, retry.id, 8)  # past done's 7 days, but its original is stored
    newest = (await store.submit(text_job("newer"))).job
    await store.cancel(newest.id)

    assert await prune_all(store, limit=1) == {FAILED: 1, DONE: 1}
    assert await stored(store, [original.id, retry.id]) == set()
    assert (await store.counts()).pruned == {FAILED: 1, DONE: 1}


async def test_a_retry_outlives_its_original_and_loses_the_link(store: Store) -> None:
    original = await finished(store, FAILED, days_ago=31)
    retry = await store.retry(original.id)
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Ack(lease, None)], "w")  # the retry is done, and young
    await store.submit(text_job("newest"))

    assert await prune_all(store) == {FAILED: 1}
    kept = await store.get(retry.id)
    assert kept.status is DONE and kept.retry_of is None
    with pytest.raises(JobNotFound):
        await store.retry(original.id)


async def test_a_young_original_keeps_its_old_retry(store: Store) -> None:
    original = await finished(store, FAILED, days_ago=10)  # failed are kept 30 days
    retry = await store.retry(original.id)
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Ack(lease, None)], "w")
    await age(store, retry.id, 9)  # past done's 7 days
    await store.submit(text_job("newest"))

    assert await prune_all(store) == {}
    assert (await store.get(retry.id)).retry_of == original.id
    assert (await store.get(original.id)).retried_by == retry.id


async def test_the_newest_event_is_kept_so_the_feed_never_goes_back(store: Store) -> None:
    old = await finished(store, DONE, days_ago=100)
    seq = await store.last_event_seq()
    assert await prune_all(store) == {}  # its event is the newest of the log
    assert await store.last_event_seq() == seq
    fresh = (await store.submit(text_job("fresh"))).job
    assert await prune_all(store) == {DONE: 1}
    assert await stored(store, [old.id]) == set()
    after = await store.events_after(seq)
    assert [(e.job_id, e.type.value) for e in after] == [(fresh.id, "job_created")]
    assert await store.last_event_seq() == after[-1].seq > seq
    assert await store.events_after(0) == after  # the feed replays what is kept, in order
    newer = (await store.submit(text_job("newer"))).job
    assert [e.job_id for e in await store.events_after(after[-1].seq)] == [newer.id]


async def test_one_holder_at_a_time(store: Store) -> None:
    old = await finished(store, DONE, days_ago=8)
    await store.submit(text_job("newest"))
    short = 0.3
    first = await store.prune(POLICY, "w1", 100, short)
    assert first.held and first.jobs == {DONE: 1}
    assert not (await store.prune(POLICY, "w2", 100, LONG)).held
    assert (await store.retention_state()).holder == "w1"
    assert (await store.prune(POLICY, "w1", 100, short)).held  # the holder renews
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (await store.prune(POLICY, "w2", 100, LONG)).held:  # once w1's lease ran out
        assert loop.time() < deadline, "the lease never passed to w2"
        await asyncio.sleep(0.05)
    assert (await store.retention_state()).holder == "w2"
    assert not (await store.prune(POLICY, "w1", 100, LONG)).held
    assert await stored(store, [old.id]) == set()


async def test_concurrent_pruners_delete_each_job_once(store: Store) -> None:
    jobs = [await finished(store, DONE, days_ago=8) for _ in range(30)]
    await store.submit(text_job("newest"))
    results = await asyncio.gather(*[store.prune(POLICY, "w1", 4, LONG) for _ in range(12)])
    assert sum(result.total for result in results) == 30
    assert await stored(store, [job.id for job in jobs]) == set()
    assert (await store.counts()).pruned == {DONE: 30}


def test_the_policy_reads_days_per_status() -> None:
    policy = RetentionPolicy.of({DONE: 1.5, FAILED: 0, CANCELLED: None,
                                 JobStatus.PENDING: 3})
    assert policy.days == {DONE: 1.5}
    assert policy.ages_sec() == [(DONE, 1.5 * 86400)]
