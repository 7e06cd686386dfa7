"""`Store.redrive`, on every driver: which dead-letter jobs a filter takes, counts and dry
runs, limits and what remains, batches, skipped rows, concurrency, and the history each
redriven job keeps."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.errors import InvalidTransition
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Ack, Fail, Job, NewJob
from conveyor.payloads import MAX_DEPTH
from conveyor.store import rules
from conveyor.store.base import RedriveFilter, RedriveResult, Store
from conveyor.store.postgres.events import COPY_ROWS
from tests.store.sql import overwrite_payload_sync, set_finished_at, store_url

LONG = 300.0
F = RedriveFilter


async def dead(store: Store, task: str = "t", *, queue: str = "default",
               tenant: str = "default", error: str = "boom", n: int = 0) -> Job:
    """A job in the DLQ: submitted, leased, failed for good."""
    job = (await store.submit(NewJob(task, {"n": n}, tenant=tenant, queue=queue,
                                     trace_id=f"trace-{n}"))).job
    [lease] = await store.lease("w", [queue], 1, LONG)
    assert lease.job_id == job.id
    await store.finish([Fail(lease, error, permanent=True)], "w")
    return await store.get(job.id)


def database_url_of(store: Store) -> str:
    path = getattr(store, "path", None)
    return f"sqlite:///{path}" if path is not None else store_url(store)


async def set_failed_at(store: Store, job_id: uuid.UUID, at: datetime) -> None:
    """Move a failed job's `finished_at` (when it failed) to `at`, behind the store's back."""
    await set_finished_at(store, job_id, at)


async def matched(store: Store, filter: RedriveFilter) -> int:
    result = await store.redrive(filter, 1000, dry_run=True)
    assert result.redriven == [] and result.remaining == result.matched
    return result.matched


async def test_the_filter_narrows_by_every_field_given(store: Store) -> None:
    a = await dead(store, "a", queue="q1", tenant="t1", error="boom: disk 100% full", n=1)
    b = await dead(store, "b", queue="q1", tenant="t2", error="Boom: timeout", n=2)
    c = await dead(store, "a", queue="q2", tenant="t1", error="timeout", n=3)
    # After their creation and before the redrive below: a job finishes after it is created
    # (its id's time), which a search relies on (`store.search`).
    base = datetime.now(UTC)
    jan, feb, mar = (base + timedelta(milliseconds=ms) for ms in (0, 1, 2))
    for job, at in ((a, jan), (b, feb), (c, mar)):
        await set_failed_at(store, job.id, at)
    # Not in the DLQ: done, cancelled, pending. None of them is ever taken.
    done = (await store.submit(NewJob("a", {}, queue="q9"))).job
    [lease] = await store.lease("w", ["q9"], 1, LONG)
    await store.finish([Ack(lease, None)], "w")
    cancelled = (await store.submit(NewJob("a", {}, queue="q9", delay_sec=3600))).job
    await store.cancel(cancelled.id)
    await store.submit(NewJob("a", {}, delay_sec=3600))

    assert await matched(store, F()) == 3
    assert await matched(store, F(task="a")) == 2
    assert await matched(store, F(queue="q1")) == 2
    assert await matched(store, F(tenant="t1", task="a")) == 2
    assert await matched(store, F(tenant="t1", queue="q1")) == 1
    assert await matched(store, F(task="nope")) == 0
    # A case-sensitive substring, with no pattern characters.
    assert await matched(store, F(error="timeout")) == 2
    assert await matched(store, F(error="boom")) == 1
    assert await matched(store, F(error="Boom")) == 1
    assert await matched(store, F(error="100%")) == 1
    assert await matched(store, F(error="%")) == 1
    assert await matched(store, F(error="_")) == 0
    # failed_after is inclusive, failed_before exclusive.
    assert await matched(store, F(failed_after=feb)) == 2
    assert await matched(store, F(failed_before=feb)) == 1
    assert await matched(store, F(failed_after=feb, failed_before=mar)) == 1
    assert await matched(store, F(failed_after=jan + timedelta(microseconds=1))) == 2
    assert await matched(store, F(failed_after=feb, error="timeout", tenant="t1")) == 1
    # What the real redrive takes is what the count said.
    result = await store.redrive(F(failed_after=feb, failed_before=mar), 100)
    assert [r.id for r in result.redriven] == [b.id]
    assert (await store.get(done.id)).retried_by is None
    assert (await store.get(cancelled.id)).retried_by is None


async def test_a_dry_run_counts_and_changes_nothing(store: Store) -> None:
    jobs = [await dead(store, n=i) for i in range(3)]
    before = await store.last_event_seq()
    counts = await store.counts()
    result = await store.redrive(F(), 10, dry_run=True)
    assert (result.matched, result.redriven, result.remaining) == (3, [], 3)
    assert (await store.redrive(F(), 0)).matched == 3  # a limit of 0 only counts too
    assert await store.last_event_seq() == before
    assert await store.counts() == counts
    assert [(await store.get(job.id)).retried_by for job in jobs] == [None] * 3


async def test_limit_and_remaining_oldest_first_never_twice(store: Store) -> None:
    jobs = [await dead(store, n=i) for i in range(5)]
    retried_alone = await store.retry(jobs[0].id)  # already retried: never redriven again
    first = await store.redrive(F(), 2)
    assert (first.matched, first.remaining) == (4, 2)
    assert [r.id for r in first.redriven] == [jobs[1].id, jobs[2].id]
    rest = await store.redrive(F(), 10)
    assert (rest.matched, rest.remaining) == (2, 0)
    assert [r.id for r in rest.redriven] == [jobs[3].id, jobs[4].id]
    none = await store.redrive(F(), 10)
    assert (none.matched, none.redriven, none.remaining) == (0, [], 0)
    assert (await store.get(jobs[0].id)).retried_by == retried_alone.id
    for pair in first.redriven + rest.redriven:
        original = await store.get(pair.id)
        copy = await store.get(pair.retried_by)
        assert original.retried_by == copy.id and copy.retry_of == original.id
        assert original.status is JobStatus.FAILED
        assert copy.status is JobStatus.PENDING and copy.attempts == 0
        assert (copy.task, copy.payload, copy.queue, copy.tenant, copy.priority) == (
            original.task, original.payload, original.queue, original.tenant,
            original.priority)
    # The new jobs run like any other.
    leased = await store.lease("w", ["default"], 10, LONG)
    assert {lease.job_id for lease in leased} == {
        retried_alone.id, *(r.retried_by for r in first.redriven + rest.redriven)}


async def test_a_big_redrive_writes_every_event_with_its_data(store: Store) -> None:
    """40 jobs, 80 events: past PostgreSQL's `COPY_ROWS`, so they go in by COPY, data too."""
    assert COPY_ROWS <= 2 * 40
    jobs = [await dead(store, "mail", n=i) for i in range(40)]
    before, counts = await store.last_event_seq(), await store.counts()
    result = await store.redrive(F(task="mail"), 100)
    assert [pair.id for pair in result.redriven] == [job.id for job in jobs]
    events = await store.events_after(before, limit=1000)
    assert len(events) == 80 and [e.seq for e in events] == sorted(e.seq for e in events)
    for pair in result.redriven:
        retried = (await store.job_events(pair.id))[-1]
        assert retried.type is EventType.RETRIED
        assert retried.data["retried_by"] == str(pair.retried_by)
        [created] = await store.job_events(pair.retried_by)
        assert dict(created.data) == {"retry_of": str(pair.id), "redrive": True}
    after = await store.counts()
    assert (after.pending, after.jobs_submitted) == (counts.pending + 40,
                                                     counts.jobs_submitted + 40)


async def test_each_redriven_job_s_history_says_so(store: Store) -> None:
    job = await dead(store, "mail", tenant="acme", error="smtp down", n=7)
    counts = await store.counts()
    since = datetime(2020, 1, 1, tzinfo=UTC)
    result = await store.redrive(F(task="mail", error="smtp", failed_after=since), 10,
                                 trace_id="redrive-trace")
    [pair] = result.redriven
    retried = (await store.job_events(job.id))[-1]
    assert retried.type is EventType.RETRIED and retried.status is JobStatus.FAILED
    # The filter as applied: only jobs that had failed when the redrive began.
    assert dict(retried.data) == {"retried_by": str(pair.retried_by), "redrive": True,
                                  "filter": {"task": "mail", "error": "smtp",
                                             "failed_after": since.isoformat(),
                                             "failed_before": result.as_of.isoformat()}}
    [created] = await store.job_events(pair.retried_by)
    assert created.type is EventType.CREATED
    assert dict(created.data) == {"retry_of": str(job.id), "redrive": True}
    copy = await store.get(pair.retried_by)
    assert copy.trace_id == "redrive-trace"
    after = await store.counts()
    assert (after.pending, after.failed) == (counts.pending + 1, counts.failed)
    assert after.jobs_submitted == counts.jobs_submitted + 1
    # The retry rules hold for a redriven job as for a retried one.
    with pytest.raises(InvalidTransition, match="already retried"):
        await store.retry(job.id)


async def test_batches_of_any_size_take_every_job_once(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "REDRIVE_BATCH", 2)
    jobs = [await dead(store, n=i) for i in range(7)]
    seq = await store.last_event_seq()
    result = await store.redrive(F(), 6)
    assert [r.id for r in result.redriven] == [job.id for job in jobs[:6]]
    assert (result.matched, result.remaining, result.last) == (7, 1, jobs[5].id)
    events = await store.events_after(seq)
    assert len(events) == 12  # a job_created and a job_retried for each
    # Each batch's events are committed together: in batch order, jobs in id order.
    retried = [e.job_id for e in events if e.type is EventType.RETRIED]
    assert retried == [job.id for job in jobs[:6]]
    final = await store.redrive(F(), 6)
    assert [r.id for r in final.redriven] == [jobs[6].id] and final.remaining == 0


async def test_a_row_beyond_the_payload_limits_is_skipped_not_fatal(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "REDRIVE_BATCH", 2)
    jobs = [await dead(store, n=i) for i in range(4)]
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    await asyncio.to_thread(overwrite_payload_sync, database_url_of(store), str(jobs[1].id),
                            json.dumps(deep))
    result = await store.redrive(F(), 10)
    assert [r.id for r in result.redriven] == [jobs[0].id, jobs[2].id, jobs[3].id]
    [skipped] = result.skipped
    assert skipped.id == jobs[1].id and "stored payload" in skipped.reason
    assert (result.matched, result.remaining) == (4, 1)  # it still matches
    again = await store.redrive(F(), 10)
    assert (again.redriven, [s.id for s in again.skipped], again.remaining) == (
        [], [jobs[1].id], 1)
    # A cursor past it continues after it.
    assert (await store.redrive(F(), 10, after=jobs[1].id)).skipped == []


async def test_after_continues_past_a_cursor(store: Store) -> None:
    jobs = [await dead(store, n=i) for i in range(3)]
    result = await store.redrive(F(), 10, after=jobs[0].id)
    assert [r.id for r in result.redriven] == [jobs[1].id, jobs[2].id]
    assert result.remaining == 1


async def test_concurrent_redrives_copy_each_job_once(store: Store) -> None:
    jobs = [await dead(store, n=i) for i in range(12)]
    outcomes = await asyncio.gather(
        store.redrive(F(), 100), store.redrive(F(), 100), store.redrive(F(), 5),
        *[store.retry(job.id) for job in jobs[:3]], return_exceptions=True)
    redrives = [o for o in outcomes[:3] if isinstance(o, RedriveResult)]
    assert len(redrives) == 3, outcomes
    originals = [pair.id for result in redrives for pair in result.redriven]
    retries = outcomes[3:]
    # A retry that came second is refused as a retry of a retried job is.
    assert all(isinstance(r, Job | InvalidTransition) for r in retries), retries
    assert len(originals) == len(set(originals))
    assert len(originals) + sum(isinstance(r, Job) for r in retries) == 12
    for job in jobs:
        assert (await store.get(job.id)).retried_by is not None
    assert (await store.list_jobs(status=JobStatus.PENDING)).total == 12
    assert (await store.redrive(F(), 100)).matched == 0


async def test_jobs_that_fail_during_a_redrive_are_not_taken_by_it(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redriven copies that fail again at once (a worker beside the redrive) wait for the
    next redrive: one redrive never loops on its own copies."""
    monkeypatch.setattr(rules, "REDRIVE_BATCH", 1)
    jobs = [await dead(store, n=i) for i in range(3)]
    original_write = store._write  # type: ignore[attr-defined]

    async def fail_the_copies_at_once(operation: str, *args: object) -> object:
        result = await original_write(operation, *args)
        if operation == "redrive":
            for pair in result.redriven:  # the copy fails for good before the next batch
                [lease] = await store.lease("w", ["default"], 1, LONG)
                assert lease.job_id == pair.retried_by
                await store.finish([Fail(lease, "boom again", permanent=True)], "w")
        return result

    monkeypatch.setattr(store, "_write", fail_the_copies_at_once)
    result = await store.redrive(F(), 100)
    assert [r.id for r in result.redriven] == [job.id for job in jobs]
    assert (result.matched, result.remaining) == (3, 0)
    monkeypatch.undo()
    again = await store.redrive(F(), 100, dry_run=True)
    assert again.matched == 3 and again.as_of > result.as_of  # the copies, for next time
