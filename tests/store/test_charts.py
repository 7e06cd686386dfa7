"""Chart samples (`Store.sample_stats` and the three reads), on every driver: one sample per
minute however many samplers race, queue depth and the oldest job's age, latency
percentiles of known durations, failed attempts by task counted once, tenants kept apart,
and samples past their days deleted.

Each test samples a fixed minute in the past (`sample_stats(minute=...)`) and moves the
jobs' and events' times into it in SQL (STYLE.md §5: move time, never sleep), so nothing
depends on when in a minute the test runs."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import pytest

from conveyor.models import Ack, Fail, JobId, NewJob
from conveyor.store import charts, connect_store
from conveyor.store.base import Sampled, Store
from tests.store.sql import run_at_times as sql
from tests.store.sql import store_url

LONG = 300.0
KEEP = 7.0
Ago = Callable[[int], float]


@pytest.fixture
def ago() -> Callable[[int], float]:
    """`ago(n)`: the start of the minute `n` minutes before the one the test began in (epoch
    seconds), the same all through the test however long it takes."""
    base = charts.minute_start(time.time())
    return lambda n: base - n * 60


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def count(store: Store, table: str) -> int:
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> int:
            with sqlite3.connect(path) as conn:
                return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return await asyncio.to_thread(run)
    import psycopg

    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {table}")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def set_times(store: Store, job_id: JobId, run_at: float, started_at: float,
                    finished_at: float) -> None:
    await sql(store, "UPDATE jobs SET run_at = ts(?), started_at = ts(?), finished_at = ts(?)"
                     " WHERE id = ?", (run_at, started_at, finished_at, job_id))


async def events_at(store: Store, moment: float) -> None:
    """Every event so far happened at `moment`."""
    await sql(store, "UPDATE job_events SET at = ts(?)", (moment,))


async def done(store: Store, n: int, *, tenant: str = "default", task: str = "t",
               queue: str = "default") -> list[JobId]:
    results = await store.submit_many(
        [NewJob(task, {"i": i}, tenant=tenant, queue=queue) for i in range(n)])
    ids = [result.job.id for result in results]
    leases = [lease for lease in await store.lease("w", [queue], n + 100, LONG)
              if lease.job_id in ids]
    assert len(leases) == n
    assert await store.finish([Ack(lease, None) for lease in leases], "w") == [True] * n
    return ids


async def sample(store: Store, minute: float, keep_days: float = KEEP) -> Sampled:
    return await store.sample_stats("tester", keep_days, at(minute))


@pytest.fixture
async def second(database_url: str) -> AsyncIterator[Store]:
    """Another store on the same database: another worker process's."""
    opened = await connect_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


# -- one sample a minute ----------------------------------------------------------------------

async def test_one_sample_per_minute_however_many_samplers(
    store: Store, second: Store, ago: Ago
) -> None:
    await store.submit_many([NewJob("t", {}, queue="a"), NewJob("t", {}, queue="b")])
    for n in (5, 4, 3):  # each round, both race for a minute
        minute = ago(n)
        results = await asyncio.gather(
            store.sample_stats("w1", KEEP, at(minute)), second.sample_stats("w2", KEEP, at(minute)),
            store.sample_stats("w1", KEEP, at(minute)), second.sample_stats("w2", KEEP, at(minute)))
        assert [r.minute for r in results if r.minute is not None] == [at(minute)], results
    assert await count(store, "stats_queue_minutes") == 3 * 2
    samples = await store.queue_samples(60)
    assert [(s.minute, s.queue) for s in samples] == [
        (at(ago(n)), q) for n in (5, 4, 3) for q in ("a", "b")]
    # A minute no later than the last one sampled is not sampled again, nor one not ended.
    assert (await sample(store, ago(4))).minute is None
    assert (await sample(store, ago(3))).minute is None
    with pytest.raises(ValueError, match="ended"):
        await store.sample_stats("w1", KEEP, at(ago(0)))
    # By default: the last minute that has ended.
    latest = await store.sample_stats("w1", KEEP)
    assert latest.minute is not None and latest.minute >= at(ago(1))
    assert (await store.sample_stats("w2", KEEP)).minute in (None, at(ago(0)))


# -- queue depth ------------------------------------------------------------------------------

async def test_queue_depth_and_the_oldest_runnable_jobs_age(store: Store, ago: Ago) -> None:
    old, young, _ = [r.job for r in await store.submit_many(
        [NewJob("t", {}, queue="mail"), NewJob("t", {}, queue="mail"),
         NewJob("t", {}, queue="mail", delay_sec=3600)])]  # scheduled: not pending yet
    await sql(store, "UPDATE jobs SET run_at = ts(?) WHERE id = ?", (time.time() - 30, old.id))
    await store.submit(NewJob("t", {}, queue="busy"))
    [lease] = await store.lease("w", ["busy"], 1, LONG)
    sampled = await sample(store, ago(3))
    assert sampled.queues == 2
    busy, mail = await store.queue_samples(60)  # by queue name
    assert (mail.minute, mail.queue, mail.pending, mail.running) == (
        at(ago(3)), "mail", 2, 0)
    assert mail.oldest_pending_age_sec is not None and 30 <= mail.oldest_pending_age_sec < 40
    assert (busy.queue, busy.pending, busy.running, busy.oldest_pending_age_sec) == (
        "busy", 0, 1, None)
    # Drained: a zero row the minute it happens, then nothing; a queue with only scheduled
    # jobs has rows, at zero.
    await store.finish([Ack(lease, None)], "w")
    await store.cancel(old.id)
    await store.cancel(young.id)
    await sample(store, ago(2))
    await sample(store, ago(1))
    assert [(s.minute, s.queue, s.pending, s.running, s.oldest_pending_age_sec)
            for s in await store.queue_samples(60) if s.minute > at(ago(3))] == [
        (at(ago(2)), "busy", 0, 0, None), (at(ago(2)), "mail", 0, 0, None),
        (at(ago(1)), "mail", 0, 0, None)]
    # The window: the last `minutes` ended minutes (by now: this may be a minute later).
    assert {s.minute for s in await store.queue_samples(1)} <= {at(ago(1))}
    assert at(ago(3)) not in {s.minute for s in await store.queue_samples(2)}
    assert at(ago(3)) in {s.minute for s in await store.queue_samples(4)}


# -- latency ----------------------------------------------------------------------------------

async def test_latency_percentiles_of_the_jobs_that_ended_in_the_minute(
    store: Store, ago: Ago
) -> None:
    minute = ago(4)
    ids = await done(store, 11)
    for i, job_id in enumerate(ids):  # waits 0..10 s, runs 0..100 s, all ending at :50
        finished = minute + 50
        await set_times(store, job_id, finished - 10 * i - i, finished - 10 * i, finished)
    outside = await done(store, 1)  # ended the minute after: not in this one
    await set_times(store, outside[0], minute + 60, minute + 61, minute + 62)
    cancelled = (await store.submit(NewJob("t", {}))).job
    await store.cancel(cancelled.id)
    await sql(store, "UPDATE jobs SET started_at = ts(?), finished_at = ts(?) WHERE id = ?",
              (minute, minute + 1, cancelled.id))
    sampled = await sample(store, minute)
    assert sampled.jobs == 11
    [bucket] = await store.latency_samples(60)
    assert (bucket.minute, bucket.jobs) == (at(minute), 11)
    assert (bucket.wait_p50, bucket.wait_p95, bucket.wait_p99) == pytest.approx(
        (5.0, 9.5, 9.9), abs=1e-5)
    assert (bucket.run_p50, bucket.run_p95, bucket.run_p99) == pytest.approx(
        (50.0, 95.0, 99.0), abs=1e-5)
    await sample(store, minute + 60)
    [_, after] = await store.latency_samples(60)
    assert (after.minute, after.jobs) == (at(minute + 60), 1)
    assert (after.wait_p99, after.run_p50) == pytest.approx((1.0, 1.0))


# -- failures ---------------------------------------------------------------------------------

async def fail_attempts(store: Store, task: str, *, permanent: bool, tenant: str = "default",
                        n: int = 1) -> None:
    """`n` jobs of `task` whose first attempt fails: retried in an hour, or dead-lettered."""
    results = await store.submit_many([NewJob(task, {"i": i}, tenant=tenant, max_retries=3)
                                       for i in range(n)])
    ids = {result.job.id for result in results}
    leases = [lease for lease in await store.lease("w", ["default"], 100, LONG)
              if lease.job_id in ids]
    assert len(leases) == n
    await store.finish([Fail(lease, "boom", permanent=permanent, retry_in_sec=3600)
                        for lease in leases], "w")


async def test_failed_attempts_by_task_counted_once_in_their_minute(
    store: Store, ago: Ago
) -> None:
    minute = ago(6)
    await fail_attempts(store, "send", permanent=False, n=2)  # retried later
    await fail_attempts(store, "bill", permanent=True)  # dead-lettered
    await store.submit(NewJob("lost", {}))  # its worker vanished: the lease expires
    await store.lease("gone", ["default"], 1, LONG)
    await sql(store, "UPDATE jobs SET lease_expires_at = ts(?) WHERE task = 'lost'",
              (time.time() - 60,))
    assert len(await store.rescue()) == 1
    await done(store, 1, task="fine")
    await events_at(store, minute + 30)
    sampled = await sample(store, minute)
    assert sampled.events > 0
    assert [(b.minute, b.task, b.failures) for b in await store.failure_samples(60)] == [
        (at(minute), "bill", 1), (at(minute), "lost", 1), (at(minute), "send", 2)]
    # New events only: the next sample adds the later minute's and leaves this one alone.
    await fail_attempts(store, "send", permanent=True)
    await sql(store, "UPDATE job_events SET at = ts(?) WHERE at > ts(?)",
              (minute + 61, minute + 59))
    await sample(store, minute + 60)
    assert [(b.minute, b.task, b.failures) for b in await store.failure_samples(60)] == [
        (at(minute), "bill", 1), (at(minute), "lost", 1), (at(minute), "send", 2),
        (at(minute + 60), "send", 1)]


async def test_failures_of_a_minute_not_sampled_yet_are_not_shown(
    store: Store, ago: Ago
) -> None:
    await sample(store, ago(3))
    await fail_attempts(store, "send", permanent=True)  # now: this minute's
    await sample(store, ago(2))  # reads the event, counts it in its own minute
    assert await store.failure_samples(60) == []
    assert await count(store, "stats_failure_minutes") == 1
    await fail_attempts(store, "bill", permanent=True)
    await events_at(store, ago(1) + 10)
    await sample(store, ago(1))
    assert [(b.task, b.failures) for b in await store.failure_samples(60)] == [("bill", 1)]


# -- tenants ----------------------------------------------------------------------------------

async def test_a_tenant_sees_its_own_samples_and_an_admin_everyones(
    store: Store, ago: Ago
) -> None:
    minute = ago(3)
    await store.submit_many([NewJob("t", {}, tenant="acme", queue="q"),
                             NewJob("t", {}, tenant="globex", queue="q"),
                             NewJob("t", {}, tenant="globex", queue="q")])
    for tenant, run in (("acme", 1.0), ("globex", 3.0), ("globex", 5.0)):
        [job_id] = await done(store, 1, tenant=tenant, queue="fast")
        await set_times(store, job_id, minute + 10, minute + 10, minute + 10 + run)
    await fail_attempts(store, "send", permanent=True, tenant="globex")
    await events_at(store, minute + 20)
    await sample(store, minute)

    def depth(samples: Sequence[object]) -> list[tuple[str, int]]:
        return [(s.queue, s.pending) for s in samples]  # type: ignore[attr-defined]

    assert depth(await store.queue_samples(60)) == [("q", 3)]
    assert depth(await store.queue_samples(60, "acme")) == [("q", 1)]
    assert depth(await store.queue_samples(60, "globex")) == [("q", 2)]
    assert await store.queue_samples(60, "initech") == []
    [everyone] = await store.latency_samples(60)
    [acme] = await store.latency_samples(60, "acme")
    [globex] = await store.latency_samples(60, "globex")
    assert (everyone.jobs, everyone.run_p50) == pytest.approx((3, 3.0))
    assert (acme.jobs, acme.run_p50) == pytest.approx((1, 1.0))
    assert (globex.jobs, globex.run_p50) == pytest.approx((2, 4.0))
    assert [b.failures for b in await store.failure_samples(60)] == [1]
    assert [b.failures for b in await store.failure_samples(60, "globex")] == [1]
    assert await store.failure_samples(60, "acme") == []


# -- keeping ----------------------------------------------------------------------------------

async def test_samples_past_their_days_are_deleted(store: Store, ago: Ago) -> None:
    old = ago(8 * 24 * 60)
    await store.submit(NewJob("t", {}, queue="q"))
    [job_id] = await done(store, 1)
    await set_times(store, job_id, old + 1, old + 2, old + 3)
    await fail_attempts(store, "send", permanent=True)
    await events_at(store, old + 5)
    await sample(store, old, keep_days=30)  # kept for a month, then
    assert [await count(store, t) for t in (
        "stats_queue_minutes", "stats_latency_minutes", "stats_failure_minutes")] == [1, 2, 1]
    sampled = await sample(store, ago(2), keep_days=KEEP)  # for a week: they go
    assert sampled.pruned == 4
    assert [await count(store, t) for t in (
        "stats_queue_minutes", "stats_latency_minutes", "stats_failure_minutes")] == [1, 0, 0]
    # Events older than that are not counted either.
    await fail_attempts(store, "send", permanent=True)
    await events_at(store, old + 5)
    assert (await sample(store, ago(1))).events > 0
    assert await count(store, "stats_failure_minutes") == 0
    with pytest.raises(ValueError):
        await store.sample_stats("tester", 0)


# -- the rules --------------------------------------------------------------------------------

def test_percentiles_interpolate_like_postgres() -> None:
    assert charts.percentile([7.0], 0.99) == 7.0
    assert charts.percentile([1.0, 2.0], 0.5) == 1.5
    assert charts.percentile([float(i) for i in range(101)], 0.95) == pytest.approx(95.0)
    assert charts.percentile([0.0, 10.0, 20.0, 30.0], 0.99) == pytest.approx(29.7)
    with pytest.raises(ValueError):
        charts.percentile([], 0.5)
    [every, a, b] = charts.latencies([("b", 2.0, 1.0), ("a", -1.0, 3.0)])
    assert (every.tenant, every.jobs, every.wait[0], every.run[0]) == (None, 2, 1.0, 2.0)
    assert (a.tenant, a.wait, b.tenant, b.run) == ("a", (0.0,) * 3, "b", (1.0,) * 3)


def test_minutes_and_windows() -> None:
    now = 1_000_000_030.0  # 30 s into a minute
    assert charts.minute_start(now) == 1_000_000_020.0
    assert charts.sampled_minute(now) == 1_000_000_020.0 - 60  # the minute before
    assert charts.sampled_minute(now, now - 600) == charts.minute_start(now - 600)
    with pytest.raises(ValueError):
        charts.sampled_minute(now, now - 10)
    assert charts.window_start(now, 5) == charts.minute_start(now) - 300
    assert charts.window_minutes(0) == 1 and charts.window_minutes(10**6) == charts.MAX_MINUTES
    assert charts.events_upto(10, 5) == 10
    assert charts.events_upto(10, 20) == 20
    assert charts.events_upto(0, 10**9) == charts.EVENT_BATCH
