"""The store's side of job control, on every driver: cancel (pending, scheduled, waiting for a
retry, reserved, running), how each way of ending a cancel-requested attempt ends it, run_at,
per-job timeouts, failure evidence in events, progress and the next due time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.errors import InvalidTransition, JobNotFound
from conveyor.models import Ack, Fail, JobStatus, NewJob, Progress
from conveyor.store import rules
from conveyor.store.base import Store
from tests.store.sql import make_runnable_now

LONG = 300.0


def text_job(text: str = "Hi", **kwargs: object) -> NewJob:
    return NewJob("text", {"text": text}, **kwargs)  # type: ignore[arg-type]


async def event_types(store: Store, job_id: uuid.UUID) -> list[str]:
    return [event.type.value for event in await store.job_events(job_id)]


async def test_cancel_pending_scheduled_and_retry_waiting_jobs(store: Store) -> None:
    now_job = (await store.submit(text_job("now"))).job
    later = (await store.submit(text_job("later", delay_sec=3600))).job
    retrying = (await store.submit(text_job("retry"))).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.job_id == now_job.id
    [lease2] = await store.lease("w", ["default"], 1, LONG)
    assert lease2.job_id == retrying.id
    await store.finish([Fail(lease2, "boom", retry_in_sec=3600)], "w")
    await store.finish([Ack(lease)], "w")
    for job in (later, retrying):
        cancelled = await store.cancel(job.id)
        assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
        assert (await event_types(store, job.id))[-1] == "job_cancelled"
        await make_runnable_now(store, job.id)
    assert await store.lease("w", ["default"], 10, LONG) == []  # never leased
    counts = await store.counts()
    assert (counts.cancelled, counts.pending, counts.done) == (2, 0, 1)
    page = await store.list_jobs(status=JobStatus.CANCELLED)
    assert {job.id for job in page.jobs} == {later.id, retrying.id} and page.total == 2


async def test_cancel_answers_for_finished_and_unknown_jobs(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Ack(lease)], "w")
    with pytest.raises(InvalidTransition, match="this one is done"):
        await store.cancel(job.id)
    with pytest.raises(JobNotFound):
        await store.cancel(uuid.uuid4())
    other = (await store.submit(text_job())).job
    await store.cancel(other.id)
    with pytest.raises(InvalidTransition, match="this one is cancelled"):
        await store.cancel(other.id)
    assert (await event_types(store, other.id)).count("job_cancelled") == 1


async def test_cancel_of_a_reserved_job_frees_nothing_and_its_start_is_refused(
    store: Store,
) -> None:
    job = (await store.submit(text_job())).job
    [reserved] = await store.reserve("w", ["default"], 1, LONG)
    assert (await store.cancel(job.id)).status is JobStatus.CANCELLED
    from conveyor.models import Started

    assert await store.start([Started(reserved)], LONG) == set()
    assert await store.heartbeat([reserved], LONG) == set()
    assert (await store.get(job.id)).status is JobStatus.CANCELLED


async def test_cancel_of_a_running_job_is_a_request_the_heartbeat_reports(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    asked = await store.cancel(job.id)
    assert asked.status is JobStatus.RUNNING and asked.cancel_requested_at is not None
    again = await store.cancel(job.id)  # asking again changes nothing
    assert again.cancel_requested_at == asked.cancel_requested_at
    assert (await event_types(store, job.id)).count("job_cancel_requested") == 1
    held = await store.heartbeat([lease], LONG)
    assert held == {job.id} and held.cancelling == {job.id}
    await store.finish([Fail(lease, rules.CANCELLED_ERROR, permanent=True, cancelled=True)], "w")
    ended = await store.get(job.id)
    assert ended.status is JobStatus.CANCELLED and ended.last_error == rules.CANCELLED_ERROR
    assert (await event_types(store, job.id))[-1] == "job_cancelled"
    assert (await store.counts()).cancelled == 1


@pytest.mark.parametrize("outcome, status", [
    ("ack", JobStatus.DONE),  # the handler finished first: it keeps its outcome
    ("retryable", JobStatus.CANCELLED),  # no new attempt after a cancel
    ("permanent", JobStatus.FAILED),  # what really happened stays
])
async def test_outcome_of_a_cancel_requested_attempt(
    store: Store, outcome: str, status: JobStatus
) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.cancel(job.id)
    result = {"ack": Ack(lease, "r"), "retryable": Fail(lease, "boom", retry_in_sec=0.0),
              "permanent": Fail(lease, "bad", permanent=True)}[outcome]
    assert await store.finish([result], "w") == [True]
    assert (await store.get(job.id)).status is status
    types = await event_types(store, job.id)
    assert sum(t in {"job_succeeded", "job_failed", "job_cancelled", "job_retry_scheduled"}
               for t in types) == 1  # exactly one outcome, recorded once


async def test_rescue_and_release_of_a_cancel_requested_job_cancel_it(store: Store) -> None:
    expired = (await store.submit(text_job("a"))).job
    released = (await store.submit(text_job("b"))).job
    [short] = await store.lease("w1", ["default"], 1, 0.0)
    [long] = await store.lease("w2", ["default"], 1, LONG)
    assert (short.job_id, long.job_id) == (expired.id, released.id)
    await store.cancel(expired.id)
    await store.cancel(released.id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while expired.id not in await store.rescue():
        assert loop.time() < deadline, "never rescued"
        await asyncio.sleep(0.01)
    await store.release([long])
    for job_id in (expired.id, released.id):
        assert (await store.get(job_id)).status is JobStatus.CANCELLED
        assert (await event_types(store, job_id))[-1] == "job_cancelled"
    assert (await store.counts()).cancelled == 2


async def test_retry_accepts_a_cancelled_job(store: Store) -> None:
    job = (await store.submit(text_job(timeout_sec=7.5))).job
    await store.cancel(job.id)
    new = await store.retry(job.id)
    assert new.status is JobStatus.PENDING and new.retry_of == job.id
    assert new.timeout_sec == 7.5
    assert (await store.get(job.id)).retried_by == new.id
    assert (await event_types(store, job.id))[-1] == "job_retried"
    counts = await store.counts()
    assert (counts.cancelled, counts.pending) == (1, 1)


async def test_run_at_is_kept_and_a_past_one_runs_now(store: Store) -> None:
    at = datetime.now(UTC) + timedelta(hours=2)
    later = (await store.submit(text_job("later", run_at=at))).job
    assert abs((later.run_at - at).total_seconds()) < 0.01
    past = (await store.submit(text_job("past", run_at=datetime(2001, 1, 1, tzinfo=UTC)))).job
    assert past.run_at > datetime.now(UTC) - timedelta(minutes=1)
    leases = await store.lease("w", ["default"], 10, LONG)
    assert [lease.job_id for lease in leases] == [past.id]  # the future one is not leased


async def test_next_due_is_the_earliest_free_pending_job(store: Store) -> None:
    assert await store.next_due(["default"]) is None
    await store.submit(text_job("a", delay_sec=60))
    await store.submit(text_job("b", delay_sec=30, queue="other"))
    due = await store.next_due(["default", "other"])
    assert due is not None and 25 < due <= 30
    only_default = await store.next_due(["default"])
    assert only_default is not None and 55 < only_default <= 60
    await store.submit(text_job("now"))
    now_due = await store.next_due(["default"])
    assert now_due is not None and now_due <= 0.5
    later = await store.next_due(["default"], later_than=0)  # of the jobs not due yet only
    assert later is not None and 55 < later <= 60
    await store.lease("w", ["default"], 1, LONG)  # a running job is not due
    after = await store.next_due(["default"])
    assert after is not None and after > 50
    await store.submit(text_job("due", queue="solo"))
    solo = await store.next_due(["solo"])
    assert solo is not None and solo <= 0.5
    assert await store.next_due(["solo"], later_than=0) is None  # nothing comes due later
    since = await store.next_due(["solo"], later_than=-30)  # it came due in the last 30 s
    assert since is not None and since <= 0.5


async def test_timeout_travels_with_the_lease(store: Store) -> None:
    await store.submit(text_job(timeout_sec=12.0))
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert lease.timeout_sec == 12.0
    await store.submit(text_job())
    [reserved] = await store.reserve("w", ["default"], 1, LONG)
    assert reserved.timeout_sec is None


async def test_failed_attempts_keep_their_type_and_traceback(store: Store) -> None:
    job = (await store.submit(text_job(max_retries=1))).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Fail(lease, "'to'", retry_in_sec=0.0, error_type="KeyError",
                             traceback="Traceback (most recent call last):\n  ...\nKeyError")],
                       "w")
    await make_runnable_now(store, job.id)
    [again] = await store.lease("w", ["default"], 1, LONG)
    await store.finish([Fail(again, "'to'", error_type="KeyError", traceback="tb 2")], "w")
    events = [e for e in await store.job_events(job.id)
              if e.type.value in {"job_retry_scheduled", "job_failed"}]
    assert [e.type.value for e in events] == ["job_retry_scheduled", "job_failed"]
    assert events[0].data["error_type"] == "KeyError" and "Traceback" in events[0].data["traceback"]
    assert events[0].error == "'to'" and events[1].data["traceback"] == "tb 2"
    assert (await store.get(job.id)).last_error == "'to'"


def test_a_long_traceback_keeps_its_end() -> None:
    text = "start\n" + "x" * 40_000 + "\nKeyError: 'to'"
    capped = rules.cap_traceback(text)
    assert len(capped) <= rules.TRACEBACK_LIMIT and capped.endswith("KeyError: 'to'")
    assert capped.startswith("… ") and "characters cut" in capped.splitlines()[0]
    assert rules.cap_traceback("short") == "short"


async def test_progress_is_recorded_fenced_and_reset_by_the_next_attempt(store: Store) -> None:
    job = (await store.submit(text_job())).job
    [lease] = await store.lease("w", ["default"], 1, LONG)
    assert await store.progress([Progress(lease, 0.25, "a"), Progress(lease, 1.7, "x" * 500)]) \
        == {job.id}
    seen = await store.get(job.id)
    assert seen.progress == 1.0  # clamped; the last report of a batch counts
    assert seen.progress_message == "x" * rules.PROGRESS_MESSAGE_LIMIT
    [event] = [e for e in await store.job_events(job.id) if e.type.value == "job_progress"]
    assert event.data["progress"] == 1.0 and event.status is JobStatus.RUNNING
    await store.finish([Fail(lease, "boom", retry_in_sec=0.0)], "w")
    assert await store.progress([Progress(lease, 0.5)]) == set()  # not held any more
    await make_runnable_now(store, job.id)
    await store.lease("w", ["default"], 1, LONG)
    fresh = await store.get(job.id)
    assert fresh.progress is None and fresh.progress_message is None


async def test_a_rescued_job_keeps_its_place_in_the_queue(store: Store) -> None:
    first = (await store.submit(text_job("first"))).job
    [short] = await store.lease("w-dead", ["default"], 1, 0.0)
    assert short.job_id == first.id
    later = [(await store.submit(text_job(f"later {i}"))).job for i in range(3)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while first.id not in await store.rescue():
        assert loop.time() < deadline, "never rescued"
        await asyncio.sleep(0.01)
    rescued = await store.get(first.id)
    assert rescued.run_at == first.run_at  # not pushed to the end
    leases = await store.lease("w", ["default"], 2, LONG)
    assert {lease.job_id for lease in leases} == {first.id, later[0].id}  # the two oldest
