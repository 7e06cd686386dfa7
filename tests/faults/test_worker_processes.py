"""Faults with real `conveyor worker` / `conveyor up` processes, on every driver."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.models import JobStatus, NewJob
from conveyor.store.base import Store
from tests.processes import ConveyorProcess, free_port, until, wait_http_ok

pytestmark = pytest.mark.slow


@pytest.fixture
def spawn(tmp_path: Path, database_url: str) -> Iterator[object]:
    started: list[ConveyorProcess] = []

    def start(*args: str, **env: str) -> ConveyorProcess:
        base = {"DATABASE_URL": database_url, "WORKER_POLL_MS": "100",
                "RETRY_BACKOFF_BASE_SEC": "0.05", "RATE_LIMIT_PER_MINUTE": "0"}
        log = tmp_path / f"{args[0]}-{len(started)}.log"
        process = ConveyorProcess(list(args), {**base, **env}, log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


async def test_kill9_mid_job_is_rescued_and_succeeds_once(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    env = {"LEASE_TIMEOUT_SEC": "1.5", "TEXT_SECONDS_PER_CHAR": "0.4"}
    doomed = spawn("worker", **env)
    job = (await store.submit(NewJob("text", {"text": "Hello"}))).job

    async def running_on_doomed() -> bool:
        current = await store.get(job.id)
        return current.status is JobStatus.RUNNING and str(doomed.pid) in (
            current.lease_owner or "")

    await until(running_on_doomed, timeout=15, message="job running on the first worker")
    doomed.kill()
    survivor = spawn("worker", **env)

    async def finished() -> bool:
        return (await store.get(job.id)).status is JobStatus.DONE

    await until(finished, timeout=20, message=f"job done\n{survivor.logs()}")
    done = await store.get(job.id)
    assert done.attempts == 2
    assert str(survivor.pid) in next(
        e.worker or "" for e in await store.job_events(job.id) if e.type.value == "job_succeeded"
    )
    types = [e.type.value for e in await store.job_events(job.id)]
    assert types.count("job_succeeded") == 1
    assert types.count("job_lease_expired") == 1
    assert survivor.stop() == 0


async def test_kill9_with_reserved_jobs_frees_them_without_spending_attempts(  # type: ignore[no-untyped-def]
    store: Store, spawn
) -> None:
    env = {"LEASE_TIMEOUT_SEC": "1.5", "TEXT_SECONDS_PER_CHAR": "0.2",
           "WORKER_CONCURRENCY": "1", "WORKER_PREFETCH": "2"}
    doomed = spawn("worker", **env)
    ids = [r.job.id for r in await store.submit_many(
        [NewJob("text", {"text": f"job{i}"}) for i in range(3)])]

    async def one_running_two_reserved() -> bool:
        jobs = [await store.get(job_id) for job_id in ids]
        owned = [job for job in jobs if str(doomed.pid) in (job.lease_owner or "")]
        return (len(owned) == 3 and
                sorted(job.status.value for job in owned) == ["pending", "pending", "running"])

    await until(one_running_two_reserved, timeout=15, message="a job running, two reserved")
    doomed.kill()
    survivor = spawn("worker", **env)

    async def all_done() -> bool:
        return (await store.counts()).done == 3

    await until(all_done, timeout=30, message=f"all jobs done\n{survivor.logs()}")
    # The jobs the killed worker still held as reservations: never started there (no
    # `job_leased` of it), so there is nothing to rescue. (Read afterwards, from the events:
    # between the check above and the kill, the worker may have started one more.)
    reserved = [job_id for job_id in ids
                if not any(e.type.value == "job_leased" and str(doomed.pid) in (e.worker or "")
                           for e in await store.job_events(job_id))]
    assert reserved, "the killed worker held no reservation"
    for job_id in reserved:
        job = await store.get(job_id)
        assert job.attempts == 1
        types = [e.type.value for e in await store.job_events(job_id)
                 if e.type.value != "job_progress"]
        assert types == ["job_created", "job_leased", "job_succeeded"]
    assert survivor.stop() == 0


async def test_two_workers_drain_500_jobs_each_exactly_once(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    # Jobs of a few milliseconds: with none at all, one SQLite worker's tight finish-and-lease
    # loop can keep the other out of the write lock until the queue is empty.
    env = {"TEXT_SECONDS_PER_CHAR": "0.002", "WORKER_CONCURRENCY": "10"}
    workers = [spawn("worker", **env), spawn("worker", **env)]

    async def both_registered() -> bool:  # else the first can drain all before the second starts
        return len(await store.list_workers(60)) == 2

    await until(both_registered, timeout=30, message="both workers registered")
    ids = [r.job.id for r in await store.submit_many(
        [NewJob("text", {"text": f"j{i}"}) for i in range(500)])]

    async def drained() -> bool:
        counts = await store.counts()
        return counts.done == 500

    await until(drained, timeout=60, message="500 jobs done")
    events = await store.events_after(0, limit=10_000)
    succeeded = collections.Counter(e.job_id for e in events if e.type.value == "job_succeeded")
    leased = collections.Counter(e.job_id for e in events if e.type.value == "job_leased")
    assert set(succeeded) == set(ids) and set(succeeded.values()) == {1}
    assert set(leased.values()) == {1}, "a job was leased twice while its lease was live"
    by_worker = collections.Counter(e.worker for e in events if e.type.value == "job_succeeded")
    assert len(by_worker) == 2, f"both workers should take part: {by_worker}"
    for worker in workers:
        assert worker.stop() == 0


async def test_sigterm_finishes_short_jobs_and_hands_back_long_ones(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    worker = spawn("worker", TEXT_SECONDS_PER_CHAR="0.5", SHUTDOWN_GRACE_SEC="1.5",
                   WORKER_CONCURRENCY="2")
    short = (await store.submit(NewJob("text", {"text": "ab"}))).job  # 1 s
    long = (await store.submit(NewJob("text", {"text": "a" * 20}))).job  # 10 s

    async def both_running() -> bool:
        jobs = [await store.get(short.id), await store.get(long.id)]
        return all(job.status is JobStatus.RUNNING for job in jobs)

    await until(both_running, timeout=15, message="both jobs running")
    assert worker.stop(timeout=15) == 0
    assert (await store.get(short.id)).status is JobStatus.DONE
    handed_back = await store.get(long.id)
    assert handed_back.status is JobStatus.PENDING and handed_back.attempts == 0
    assert [e.type.value for e in await store.job_events(long.id)][-1] == "job_released"


async def test_restart_keeps_every_job_and_its_history(store: Store, spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = str(free_port())
    env = {"PORT": port, "TEXT_SECONDS_PER_CHAR": "0.01", "DASHBOARD_DIR": str(tmp_path)}
    base = f"http://127.0.0.1:{port}"
    server = spawn("up", **env)
    wait_http_ok(f"{base}/health", server)
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        ran = [(await http.post("/jobs", json={"text": f"r{i}"})).json()["id"] for i in range(5)]
        waiting = (await http.post("/jobs", json={"text": "later", "delay_sec": 3600})).json()
        dead = (await http.post("/jobs", json={"payload": {"invalid": True}})).json()

        async def settled() -> bool:
            counts = (await http.get("/metrics")).json()
            return bool(counts["done"] == 5 and counts["failed"] == 1)

        await until(settled, timeout=20, message="jobs settled")
        before = {job_id: (await http.get(f"/jobs/{job_id}", params={"history": True})).json()
                  for job_id in [*ran, waiting["id"], dead["id"]]}
    assert_graceful(server)

    server = spawn("up", **env)
    wait_http_ok(f"{base}/health", server)
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        after = {job_id: (await http.get(f"/jobs/{job_id}", params={"history": True})).json()
                 for job_id in before}
        assert after == before
        assert (await http.get("/metrics")).json()["jobs_submitted"] == 7
        assert (await http.get("/dlq")).json()["total"] == 1
    assert_graceful(server)


def assert_graceful(server: ConveyorProcess) -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean exit too;
    the log proves the worker drained and the API closed."""
    assert server.stop() in (0, -15)
    logs = server.logs()
    assert '"event": "worker_stop"' in logs and '"event": "api_stop"' in logs, logs


async def test_a_paused_queue_is_leased_by_no_worker_process_until_resumed(  # type: ignore[no-untyped-def]
    store: Store, spawn
) -> None:
    env = {"TEXT_SECONDS_PER_CHAR": "0.01", "WORKER_CONCURRENCY": "2"}
    workers = [spawn("worker", "--queues", "default,probe", **env) for _ in range(2)]

    async def both_registered() -> bool:
        return len(await store.list_workers(60)) == 2

    await until(both_registered, timeout=30, message="both workers registered")
    await store.pause_queue("default")
    held = [r.job.id for r in await store.submit_many(
        [NewJob("text", {"text": f"held {i}"}) for i in range(4)])]
    # Probes on a running queue, submitted after the held jobs, until each worker has leased
    # one: every worker has leased since the pause, and skipped the paused queue.
    pids = {str(worker.pid) for worker in workers}
    seen: set[str] = set()

    async def every_worker_leased_a_probe() -> bool:
        probe = (await store.submit(NewJob("text", {"text": "p"}, queue="probe"))).job

        async def leased_by() -> str | None:
            events = await store.job_events(probe.id)
            return next((e.worker for e in events if e.type.value == "job_leased"), None)

        worker = await until(leased_by, timeout=10, message="the probe was leased")
        seen.update(pid for pid in pids if pid in worker)
        return seen == pids

    await until(every_worker_leased_a_probe, timeout=30, message="each worker leased a probe")
    assert [(await store.get(job_id)).status for job_id in held] == [JobStatus.PENDING] * 4
    await store.resume_queue("default")

    async def all_done() -> bool:
        statuses = [(await store.get(job_id)).status for job_id in held]
        return statuses == [JobStatus.DONE] * len(held)

    await until(all_done, timeout=30, message="the held jobs ran after the resume")
    for worker in workers:
        assert worker.stop() == 0
