"""The worker loop in-process, on every driver: outcomes, retries, the text task's failure
reasons, sync handlers off the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.models import JobStatus, NewJob
from conveyor.store.base import Store
from conveyor.tasks import task
from conveyor.worker import Worker
from tests.processes import until

FAST = {"text_seconds_per_char": 0.0, "worker_poll_ms": 50, "retry_backoff_base_sec": 0.01,
        "retry_backoff_max_sec": 0.05, "lease_timeout_sec": 30, "shutdown_grace_sec": 2}


async def settle(store: Store, job_id: Any, timeout: float = 10.0) -> Any:
    async def finished() -> Any:
        job = await store.get(job_id)
        return job if job.status in (JobStatus.DONE, JobStatus.FAILED) else None

    return await until(finished, timeout=timeout, message=f"job {job_id} finished")


SEED_FAILURES = [
    ({"text": "x" * 31}, "Text length exceeds maximum (31 > 30 characters)", 1),
    ({"fail": True}, "Simulated failure for testing", 4),  # transient: 1 + MAX_RETRIES (3)
    ({"text": ""}, "Payload must include non-empty text", 1),
    ({}, "Payload must include non-empty text", 1),
    ({"text": "please reject me"}, 'Job rejected: forbidden content (text contains "reject")', 1),
    ({"invalid": True}, "Invalid payload format (invalid=true)", 1),
]


@pytest.mark.parametrize(("payload", "message", "attempts"), SEED_FAILURES)
async def test_text_failures_end_in_dlq_with_their_reason(
    store: Store, run_worker: Callable[..., Worker], payload: dict[str, Any], message: str,
    attempts: int,
) -> None:
    run_worker()
    job = (await store.submit(NewJob("text", payload, max_retries=3))).job
    dead = await settle(store, job.id)
    assert (dead.status, dead.last_error, dead.attempts) == (JobStatus.FAILED, message, attempts)
    types = [e.type.value for e in await store.job_events(job.id)]
    assert types.count("job_retry_scheduled") == attempts - 1
    assert types[-1] == "job_failed"


async def test_text_job_succeeds_and_takes_time_per_character(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker(text_seconds_per_char=0.05)
    job = (await store.submit(NewJob("text", {"text": "Hello"}))).job
    done = await settle(store, job.id)
    assert done.status is JobStatus.DONE and done.result == {"length": 5, "seconds": 0.25}
    assert (done.finished_at - done.started_at).total_seconds() >= 0.25


@task("test_sync_sleep")
def sync_sleep(payload: dict[str, Any]) -> dict[str, Any]:
    time.sleep(payload["seconds"])
    return {"thread": threading.current_thread().name}


async def test_sync_handlers_run_off_the_event_loop(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    results = await store.submit_many(
        [NewJob("test_sync_sleep", {"seconds": 0.3}) for _ in range(5)]
    )
    started = time.monotonic()
    loop_ticks = 0

    async def ticker() -> None:
        nonlocal loop_ticks
        while True:
            await asyncio.sleep(0.01)
            loop_ticks += 1

    tick = asyncio.create_task(ticker())
    jobs = [await settle(store, r.job.id) for r in results]
    tick.cancel()
    elapsed = time.monotonic() - started
    assert all(job.status is JobStatus.DONE for job in jobs)
    assert all(job.result["thread"].startswith("conveyor-task") for job in jobs), (
        "on the worker's own pool")
    assert elapsed < 1.2, "five 0.3 s sync jobs on five slots should overlap"
    assert loop_ticks >= 10, "the event loop was blocked"


@task("test_permanent")
async def permanent(payload: dict[str, Any]) -> None:
    from conveyor import PermanentError

    raise PermanentError("cannot ever work")


async def test_permanent_error_and_unknown_task_skip_retries(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    perm = (await store.submit(NewJob("test_permanent", {}, max_retries=5))).job
    unknown = (await store.submit(NewJob("no_such_task", {}, max_retries=5))).job
    assert (await settle(store, perm.id)).attempts == 1
    dead = await settle(store, unknown.id)
    assert dead.attempts == 1 and "no handler" in (dead.last_error or "")


async def test_idle_worker_is_woken_by_a_new_job(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    worker = run_worker(worker_poll_ms=60_000)  # without a wake-up, the job would wait a minute

    async def registered_and_idle() -> bool:
        # Registered, then its first (empty) lease and the store watcher's first read.
        return bool(await store.list_workers(60)) and worker._wakeup.is_set() is False

    await until(registered_and_idle, timeout=5, message="worker idle")
    await asyncio.sleep(0.3)  # let the first poll settle; the job must not ride on it
    job = (await store.submit(NewJob("text", {"text": "a"}))).job
    assert (await settle(store, job.id, timeout=5)).status is JobStatus.DONE


async def test_worker_registers_and_heartbeats_its_leases(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    worker = run_worker(lease_timeout_sec=0.6, text_seconds_per_char=0.15)
    job = (await store.submit(NewJob("text", {"text": "abcdefghij"}))).job  # 1.5 s > lease
    done = await settle(store, job.id)
    assert done.status is JobStatus.DONE and done.attempts == 1, "heartbeats kept the lease"
    assert [w.id for w in await store.list_workers(60)] == [worker.id]


def _deep(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


UNSTORABLE_RESULTS: dict[str, object] = {
    "set": {1, 2},  # JSON cannot hold it
    "nan": {"score": float("nan")},  # PostgreSQL's jsonb has no NaN
    "nul": {"text": "a\x00b"},  # nor the NUL character
    "deep": _deep(100),  # the API could not show it
}


@task("test_not_json")
async def not_json(payload: dict[str, Any]) -> object:
    return UNSTORABLE_RESULTS[payload["kind"]]


@pytest.mark.parametrize("kind", sorted(UNSTORABLE_RESULTS))
async def test_a_result_the_store_cannot_hold_fails_only_its_own_job(
    store: Store, run_worker: Callable[..., Worker], kind: str
) -> None:
    run_worker()
    results = await store.submit_many(
        [NewJob("text", {"text": "a"}), NewJob("test_not_json", {"kind": kind}, max_retries=3),
         NewJob("text", {"text": "b"})]
    )
    jobs = [await settle(store, r.job.id) for r in results]
    assert [j.status for j in jobs] == [JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE]
    assert jobs[1].attempts == 1 and "not storable JSON" in (jobs[1].last_error or "")


@task("test_nul_error")
async def nul_error(payload: dict[str, Any]) -> None:
    raise ValueError("bad\x00news \udcff")  # neither survives a PostgreSQL text column as is


async def test_an_error_message_the_store_cannot_hold_is_cleaned(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    job = (await store.submit(NewJob("test_nul_error", {}, max_retries=0))).job
    failed = await settle(store, job.id)
    assert failed.status is JobStatus.FAILED and failed.last_error == "badnews ?"


STARTED: list[str] = []


@task("test_record_start")
async def record_start(payload: dict[str, Any]) -> None:
    STARTED.append(payload["name"])


async def test_a_slot_is_free_while_its_outcome_is_written(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    """One slot; the first job's ack is held back: the second job still starts, and the
    first job's lease is renewed by heartbeats while it waits for its write."""
    STARTED.clear()
    gate = asyncio.Event()
    finish, heartbeat = store.finish, store.heartbeat
    renewed: list[Any] = []

    async def held_finish(outcomes: Any, worker: str, *rest: Any) -> list[bool]:
        await gate.wait()
        return await finish(outcomes, worker, *rest)

    async def spied_heartbeat(leases: Any, lease_for_sec: float) -> set[Any]:
        renewed.extend(lease.job_id for lease in leases)
        return await heartbeat(leases, lease_for_sec)

    store.finish = held_finish  # type: ignore[method-assign]
    store.heartbeat = spied_heartbeat  # type: ignore[method-assign]
    first = (await store.submit(NewJob("test_record_start", {"name": "first"}))).job
    second = (await store.submit(NewJob("test_record_start", {"name": "second"}))).job
    run_worker(worker_concurrency=1, lease_timeout_sec=0.6)  # heartbeats every 0.2 s

    async def both_started() -> bool:
        return STARTED == ["first", "second"]

    await until(both_started, message="the second job started while the first's ack waits")
    await until(lambda: _true(first.id in renewed), message="the finished job's lease renewed")
    assert (await store.get(first.id)).status is JobStatus.RUNNING  # not written yet
    gate.set()
    assert (await settle(store, first.id)).status is JobStatus.DONE
    assert (await settle(store, second.id)).status is JobStatus.DONE


async def _true(value: bool) -> bool:
    return value


GATES: dict[str, asyncio.Event] = {}


@task("test_gated")
async def gated(payload: dict[str, Any]) -> None:
    STARTED.append(payload["name"])
    await GATES.setdefault(payload["name"], asyncio.Event()).wait()


async def test_prefetched_jobs_stay_pending_until_they_start(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    STARTED.clear()
    GATES.clear()
    ids = [(await store.submit(NewJob("test_gated", {"name": f"j{i}"}))).job.id
           for i in range(3)]
    worker = run_worker(worker_concurrency=1, worker_prefetch=2)

    async def reserved() -> bool:
        jobs = [await store.get(job_id) for job_id in ids[1:]]
        return all(job.lease_owner == worker.id for job in jobs)

    await until(reserved, message="two jobs reserved ahead of the busy slot")
    assert STARTED == ["j0"]
    for job_id in ids[1:]:
        job = await store.get(job_id)
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
        assert [e.type.value for e in await store.job_events(job_id)] == ["job_created"]
    for i in range(3):
        GATES.setdefault(f"j{i}", asyncio.Event()).set()
    for job_id in ids:
        done = await settle(store, job_id)
        assert (done.status, done.attempts) == (JobStatus.DONE, 1)
        types = [e.type.value for e in await store.job_events(job_id)]
        assert types == ["job_created", "job_leased", "job_succeeded"]
    assert sorted(STARTED) == ["j0", "j1", "j2"]


async def test_a_tenant_s_reserved_job_starts_before_another_s_held_earlier(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    """Tenant b's job is reserved behind two of a's: it still takes the next free slot,
    since b has nothing running on this worker and a has."""
    STARTED.clear()
    GATES.clear()
    for i in range(4):
        await store.submit(NewJob("test_gated", {"name": f"a{i}"}, tenant="a"))
    worker = run_worker(worker_concurrency=2, worker_prefetch=3)
    await until(lambda: _started(2), message="both slots busy")
    late = (await store.submit(NewJob("test_gated", {"name": "b0"}, tenant="b"))).job.id

    async def reserved() -> bool:
        return (await store.get(late)).lease_owner == worker.id

    await until(reserved, message="b's job reserved")
    assert (await store.get_tenant("a")).pending == 2  # a2 and a3, reserved first
    GATES.setdefault(STARTED[0], asyncio.Event()).set()
    await until(lambda: _started(3), message="a freed slot taken")
    assert STARTED[2] == "b0", STARTED
    for name in ("a0", "a1", "a2", "a3", "b0"):
        GATES.setdefault(name, asyncio.Event()).set()
    assert (await settle(store, late)).status is JobStatus.DONE


async def _started(count: int) -> bool:
    return len(STARTED) >= count


async def test_a_stopping_worker_hands_its_reservations_back(
    store: Store, run_worker: Callable[..., Worker]
) -> None:
    STARTED.clear()
    GATES.clear()
    first = (await store.submit(NewJob("test_gated", {"name": "a"}))).job.id
    rest = [(await store.submit(NewJob("test_gated", {"name": f"b{i}"}))).job.id
            for i in range(2)]
    worker = run_worker(worker_concurrency=1, worker_prefetch=2)

    async def reserved() -> bool:
        return all([(await store.get(job_id)).lease_owner == worker.id for job_id in rest])

    await until(reserved, message="jobs reserved")
    worker.stop()
    GATES.setdefault("a", asyncio.Event()).set()  # the running job finishes within the grace
    assert (await settle(store, first)).status is JobStatus.DONE

    async def handed_back() -> bool:
        return all([(await store.get(job_id)).lease_owner is None for job_id in rest])

    await until(handed_back, message="reservations handed back")
    for job_id in rest:
        job = await store.get(job_id)
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    assert STARTED == ["a"]
