"""The worker's side of job control, in-process on every driver: cancelling running async and
sync handlers, cancel racing with completion, hung handlers timing out into the DLQ while
other jobs run, the handler's context and progress, tracebacks, scheduled times."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import JobContext, current_job
from conveyor.models import JobStatus, NewJob
from conveyor.store.base import Store
from conveyor.tasks import task
from conveyor.worker import Worker
from tests.processes import until

FAST = {"text_seconds_per_char": 0.0, "worker_poll_ms": 50, "retry_backoff_base_sec": 0.01,
        "retry_backoff_max_sec": 0.05, "lease_timeout_sec": 1.5, "shutdown_grace_sec": 2}
TERMINAL = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
OUTCOME_EVENTS = {"job_succeeded", "job_failed", "job_cancelled", "job_retry_scheduled"}

seen: dict[str, Any] = {}
"""What the handlers below observed, by job id."""


@task("jc_wait_async")
async def wait_async(payload: dict[str, Any], context: JobContext) -> str:
    try:
        await asyncio.sleep(payload.get("seconds", 60))
    except asyncio.CancelledError:
        seen[str(context.job_id)] = "cancelled"
        raise
    return "finished"


@task("jc_wait_sync")
def wait_sync(payload: dict[str, Any]) -> str:
    context = current_job()  # on the handler's thread
    while not context.cancelled:
        time.sleep(0.01)
    seen[str(context.job_id)] = "saw the flag"
    return "returned normally"


@task("jc_short")
async def short(payload: dict[str, Any]) -> str:
    await asyncio.sleep(payload.get("seconds", random.uniform(0, 0.02)))
    return "done"


@task("jc_hang_async", timeout=0.3)
async def hang_async(payload: dict[str, Any]) -> None:
    await asyncio.Event().wait()


@task("jc_hang_sync", timeout=0.3)
def hang_sync(payload: dict[str, Any]) -> None:
    time.sleep(1.0)  # ignores its flag: the thread is left to finish


@task("jc_context")
def with_context(payload: dict[str, Any], context: JobContext) -> dict[str, Any]:
    same = current_job() is context
    for step in range(1, 11):
        context.progress(step / 10, f"step {step}")
        time.sleep(0.1)
    return {"attempt": context.attempt, "tenant": context.tenant, "queue": context.queue,
            "trace": context.trace_id, "same": same, "max": context.max_retries,
            "thread": threading.current_thread().name}


@task("jc_key_error")
def key_error(payload: dict[str, Any]) -> None:
    payload["to"]


async def status_is(store: Store, job_id: Any, *statuses: JobStatus,
                    timeout: float = 10.0) -> Any:
    async def check() -> Any:
        job = await store.get(job_id)
        return job if job.status in statuses else None

    return await until(check, timeout=timeout, message=f"job {job_id} reached {statuses}")


async def outcome_events(store: Store, job_id: Any) -> list[str]:
    return [e.type.value for e in await store.job_events(job_id)
            if e.type.value in OUTCOME_EVENTS]


async def test_cancelling_a_running_async_handler_cancels_its_task(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("jc_wait_async", {}))).job
    await status_is(store, job.id, JobStatus.RUNNING)
    assert (await store.cancel(job.id)).status is JobStatus.RUNNING
    ended = await status_is(store, job.id, *TERMINAL)
    assert ended.status is JobStatus.CANCELLED and seen[str(job.id)] == "cancelled"
    assert await outcome_events(store, job.id) == ["job_cancelled"]


async def test_postgres_tells_the_worker_without_waiting_for_a_heartbeat(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    if not store.supports_notify:
        pytest.skip("SQLite workers learn of a cancellation from their heartbeat")
    run_worker(lease_timeout_sec=60)  # heartbeats every 20 s
    job = (await store.submit(NewJob("jc_wait_async", {}))).job
    await status_is(store, job.id, JobStatus.RUNNING)
    await store.cancel(job.id)
    ended = await status_is(store, job.id, *TERMINAL, timeout=5.0)
    assert ended.status is JobStatus.CANCELLED


async def test_a_cancelled_sync_handler_ends_cancelled_when_its_thread_returns(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("jc_wait_sync", {}))).job
    await status_is(store, job.id, JobStatus.RUNNING)
    await store.cancel(job.id)
    ended = await status_is(store, job.id, *TERMINAL)
    # It returned a value, but after it was asked to stop: never `done`.
    assert ended.status is JobStatus.CANCELLED and ended.result is None
    assert seen[str(job.id)] == "saw the flag"


async def test_cancel_racing_with_completion_has_exactly_one_outcome(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    jobs = [result.job for result in await store.submit_many(
        [NewJob("jc_short", {"seconds": random.uniform(0.01, 0.1)}) for _ in range(40)])]
    run_worker(worker_concurrency=5)
    answers: dict[Any, JobStatus] = {}
    # Newest first: the first cancels find jobs still waiting, the later ones race with
    # running and finishing jobs.
    for job in reversed(jobs):
        await asyncio.sleep(random.uniform(0, 0.01))
        try:
            answers[job.id] = (await store.cancel(job.id)).status
        except Exception as exc:  # finished first: a 409
            assert "this one is done" in str(exc)
            answers[job.id] = JobStatus.DONE
    statuses = set()
    for job in jobs:
        ended = await status_is(store, job.id, *TERMINAL)
        statuses.add(ended.status)
        events = await outcome_events(store, job.id)
        assert len(events) == 1, (job.id, events)
        assert ended.status in (JobStatus.DONE, JobStatus.CANCELLED)
        if answers[job.id] is JobStatus.CANCELLED:  # cancelled while pending
            assert ended.status is JobStatus.CANCELLED
        if answers[job.id] is JobStatus.DONE:
            assert ended.status is JobStatus.DONE
    assert JobStatus.CANCELLED in statuses


@pytest.mark.parametrize("name", ["jc_hang_async", "jc_hang_sync"])
async def test_hung_handlers_time_out_into_the_dlq_while_other_jobs_run(
    store: Store, run_worker: Callable[..., Worker], name: str
) -> None:
    worker = run_worker(worker_concurrency=3)
    hung = (await store.submit(NewJob(name, {}, max_retries=1))).job
    others = [(await store.submit(NewJob("jc_short", {}))).job for _ in range(10)]
    dead = await status_is(store, hung.id, *TERMINAL)
    assert (dead.status, dead.attempts) == (JobStatus.FAILED, 2)
    assert dead.last_error == "Timed out after 0.3 s"
    events = await store.job_events(hung.id)
    assert [e.type.value for e in events if e.type.value in OUTCOME_EVENTS] == [
        "job_retry_scheduled", "job_failed"]
    assert all(e.data.get("error_type") == "TimeoutError" for e in events if e.error)
    for other in others:
        assert (await status_is(store, other.id, *TERMINAL)).status is JobStatus.DONE
    # A sync handler's threads are left to finish; they hold their slots until they do.
    async def slots_back() -> bool:
        return worker.free_slots == 3

    await until(slots_back, timeout=5.0,
                message="abandoned threads finished and gave their slots back")


async def test_a_job_timeout_overrides_the_task_default(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("jc_wait_async", {"seconds": 5}, max_retries=0,
                                     timeout_sec=1.0))).job
    dead = await status_is(store, job.id, *TERMINAL)
    assert (dead.status, dead.last_error) == (JobStatus.FAILED, "Timed out after 1 s")


async def test_the_handler_sees_its_context_and_its_progress_is_recorded(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("jc_context", {}, tenant="acme", queue="default",
                                     trace_id="trace-9", max_retries=2))).job

    async def reported() -> Any:
        current = await store.get(job.id)
        return current if current.progress and current.status is JobStatus.RUNNING else None

    running = await until(reported, timeout=10, message="progress recorded while running")
    assert 0 < running.progress <= 1 and (running.progress_message or "").startswith("step")
    done = await status_is(store, job.id, *TERMINAL)
    assert done.status is JobStatus.DONE
    assert done.result["same"] is True and done.result["thread"].startswith("conveyor-task")
    assert (done.result["attempt"], done.result["tenant"], done.result["trace"],
            done.result["max"]) == (1, "acme", "trace-9", 2)
    progress = [e for e in await store.job_events(job.id) if e.type.value == "job_progress"]
    assert 1 <= len(progress) <= 6  # about 1 s of reports every 0.1 s, written twice a second


async def test_a_failure_keeps_its_type_and_traceback(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("jc_key_error", {}, max_retries=0))).job
    dead = await status_is(store, job.id, *TERMINAL)
    assert dead.status is JobStatus.FAILED and dead.last_error == "'to'"
    [failed] = [e for e in await store.job_events(job.id) if e.type.value == "job_failed"]
    assert failed.data["error_type"] == "KeyError"
    assert "Traceback (most recent call last)" in failed.data["traceback"]
    assert "in key_error" in failed.data["traceback"]
    assert 'payload["to"]' in failed.data["traceback"]


async def test_a_scheduled_job_is_not_leased_before_its_time(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker(worker_poll_ms=5000)  # the poll alone would start it seconds late
    at = datetime.now(UTC) + timedelta(seconds=0.8)
    job = (await store.submit(NewJob("jc_short", {}, run_at=at))).job
    done = await status_is(store, job.id, *TERMINAL)
    assert done.status is JobStatus.DONE
    assert done.started_at is not None and done.started_at >= job.run_at
    # Woken by its time, not by the 5 s poll (a generous bound; the bench measures it).
    assert (done.started_at - job.run_at).total_seconds() < 2.0
