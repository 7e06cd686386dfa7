"""Enqueue throughput: how fast jobs get into the store.

Six paths, each bounded by a job count and a time budget, on an empty database:

- `store.submit` from Python, one job per call (the cost of one transaction per job);
- `store.submit_many`, 1,000 jobs per call (one transaction per batch);
- the producer API, `AsyncQueue.enqueue` and `enqueue_many` (the store calls plus the
  submission rules), and the blocking `Queue.enqueue` from a plain thread;
- `POST /jobs` against a real `conveyor api` process, one job per request;
- `POST /jobs/batch`, 1,000 jobs per request.

One-at-a-time paths run with 1 request in flight (what one sequential producer gets: a
latency figure in disguise) and with `concurrency` in flight (what the server sustains).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.environment import cpu_between, cpu_snapshot
from bench.httpclient import HttpConnection
from bench.processes import start_api, wait_http_ok
from bench.results import Measurement, percentile
from conveyor.config import Settings
from conveyor.models import NewJob
from conveyor.producer import AsyncQueue, JobSpec, Queue
from conveyor.store import Store, connect_store

BATCH = 1000


@dataclass(frozen=True)
class EnqueueBudget:
    seconds: float
    max_jobs: int
    concurrency: int


async def drive(
    workers: int, per_call: int, budget: EnqueueBudget, call: Callable[[int], Awaitable[None]]
) -> tuple[int, float, list[float]]:
    """Run `call` from `workers` loops until the budget is spent; jobs, seconds, call times."""
    done = 0
    issued = 0
    durations: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + budget.seconds

    async def one_loop() -> None:
        nonlocal done, issued
        while issued + per_call <= budget.max_jobs and loop.time() < deadline:
            issued += per_call
            began = loop.time()
            await call(issued)
            durations.append(loop.time() - began)
            done += per_call

    await asyncio.gather(*(one_loop() for _ in range(workers)))
    return done, loop.time() - start, durations


def measure(
    key: str, label: str, kind: str, done: int, elapsed: float, durations: list[float],
    cpu: dict[str, float],
) -> Measurement:
    return Measurement(
        key=key, label=label, store=kind, value=done / elapsed if elapsed > 0 else 0.0,
        unit="jobs/s",
        details={
            "jobs": done, "seconds": round(elapsed, 3),
            "call_ms_p50": round(percentile(durations, 50) * 1000, 3),
            "call_ms_p99": round(percentile(durations, 99) * 1000, 3),
            "cpu_seconds": cpu,
        },
    )


def _new_job(n: int) -> NewJob:
    return NewJob(task="bench_noop", payload={"n": n})


async def store_paths(kind: str, url: str, budget: EnqueueBudget) -> list[Measurement]:
    """`store.submit` and `store.submit_many` in this process (the default asyncio loop,
    like any Python producer)."""
    store: Store = await connect_store(url)
    out = []
    try:
        await store.submit(_new_job(0))  # warm the pool and the statement caches
        for inflight in (1, budget.concurrency):
            async def submit(n: int) -> None:
                await store.submit(_new_job(n))

            before = cpu_snapshot([])
            done, elapsed, durations = await drive(inflight, 1, budget, submit)
            out.append(measure(
                f"enqueue.store.submit.c{inflight}",
                f"enqueue: store.submit, {inflight} in flight", kind, done, elapsed,
                durations, cpu_between(before, cpu_snapshot([])),
            ))

        async def submit_many(n: int) -> None:
            await store.submit_many([_new_job(n + i) for i in range(BATCH)])

        before = cpu_snapshot([])
        done, elapsed, durations = await drive(1, BATCH, budget, submit_many)
        out.append(measure(
            "enqueue.store.submit_many", f"enqueue: store.submit_many, {BATCH} per call",
            kind, done, elapsed, durations, cpu_between(before, cpu_snapshot([])),
        ))
    finally:
        await store.close()
    return out


async def producer_paths(kind: str, url: str, budget: EnqueueBudget) -> list[Measurement]:
    """The public producer API on a producer connection: what an application's code gets."""
    await (await connect_store(url)).close()  # migrated, as a worker or API would have
    settings = Settings(database_url=url, rate_limit_per_minute=0)
    out = []
    async with AsyncQueue(settings=settings) as queue:
        await queue.enqueue("bench_noop", {"n": 0})  # warm the pool
        for inflight in (1, budget.concurrency):
            async def enqueue(n: int) -> None:
                await queue.enqueue("bench_noop", {"n": n})

            before = cpu_snapshot([])
            done, elapsed, durations = await drive(inflight, 1, budget, enqueue)
            out.append(measure(
                f"enqueue.producer.c{inflight}",
                f"enqueue: AsyncQueue.enqueue, {inflight} in flight", kind, done, elapsed,
                durations, cpu_between(before, cpu_snapshot([])),
            ))

        async def enqueue_many(n: int) -> None:
            await queue.enqueue_many([JobSpec("bench_noop", {"n": n + i}) for i in range(BATCH)])

        before = cpu_snapshot([])
        done, elapsed, durations = await drive(1, BATCH, budget, enqueue_many)
        out.append(measure(
            "enqueue.producer.many", f"enqueue: AsyncQueue.enqueue_many, {BATCH} per call",
            kind, done, elapsed, durations, cpu_between(before, cpu_snapshot([])),
        ))
    before = cpu_snapshot([])
    done, elapsed, durations = await asyncio.to_thread(_blocking_enqueues, settings, budget)
    out.append(measure(
        "enqueue.producer.blocking", "enqueue: Queue.enqueue (blocking), 1 in flight", kind,
        done, elapsed, durations, cpu_between(before, cpu_snapshot([])),
    ))
    return out


def _blocking_enqueues(settings: Settings, budget: EnqueueBudget) -> tuple[int, float, list[float]]:
    """One plain thread calling `Queue.enqueue` in a loop until the budget is spent."""
    durations: list[float] = []
    with Queue(settings=settings) as queue:
        queue.enqueue("bench_noop", {"n": 0})
        start = time.monotonic()
        deadline = start + budget.seconds
        while len(durations) < budget.max_jobs and time.monotonic() < deadline:
            began = time.monotonic()
            queue.enqueue("bench_noop", {"n": len(durations)})
            durations.append(time.monotonic() - began)
        return len(durations), time.monotonic() - start, durations


async def http_paths(
    kind: str, url: str, budget: EnqueueBudget, log_level: str, logs: Path, tag: str
) -> list[Measurement]:
    """`POST /jobs` and `POST /jobs/batch` against one `conveyor api` process."""
    api, port = start_api(url, log_level, logs, tag)
    out = []
    try:
        await wait_http_ok(port, api)
        single = json.dumps({"task": "bench_noop", "payload": {"n": 0}}).encode()
        batch = json.dumps(
            {"jobs": [{"task": "bench_noop", "payload": {"n": i}} for i in range(BATCH)]}
        ).encode()
        for inflight in (1, budget.concurrency):
            out.append(await _post_singles(kind, port, api.pid, inflight, single, budget))

        async with HttpConnection(port) as connection:
            async def post_batch(n: int) -> None:
                status, body = await connection.post_json("/jobs/batch", batch)
                if status != 201:
                    raise RuntimeError(f"POST /jobs/batch answered {status}: {body[:300]!r}")

            before = cpu_snapshot([api.pid])
            done, elapsed, durations = await drive(1, BATCH, budget, post_batch)
            out.append(measure(
                "enqueue.http.batch", f"enqueue: POST /jobs/batch, {BATCH} per request",
                kind, done, elapsed, durations, cpu_between(before, cpu_snapshot([api.pid])),
            ))
    finally:
        api.stop()
    return out


async def _post_singles(
    kind: str, port: int, api_pid: int, inflight: int, body: bytes, budget: EnqueueBudget
) -> Measurement:
    """`POST /jobs` over `inflight` keep-alive connections, one request on each at a time."""
    free = [HttpConnection(port) for _ in range(inflight)]
    for connection in free:
        await connection.__aenter__()
    connections = list(free)
    try:
        await connections[0].post_json("/jobs", body)  # warm up

        async def post(n: int) -> None:
            connection = free.pop()
            try:
                status, answer = await connection.post_json("/jobs", body)
            finally:
                free.append(connection)
            if status != 201:
                raise RuntimeError(f"POST /jobs answered {status}: {answer[:300]!r}")

        before = cpu_snapshot([api_pid])
        done, elapsed, durations = await drive(inflight, 1, budget, post)
        return measure(
            f"enqueue.http.single.c{inflight}", f"enqueue: POST /jobs, {inflight} in flight",
            kind, done, elapsed, durations, cpu_between(before, cpu_snapshot([api_pid])),
        )
    finally:
        for connection in connections:
            await connection.__aexit__()


async def run_enqueue(
    kind: str, new_database: Callable[[], str], drop: Callable[[str], None],
    budget: EnqueueBudget, log_level: str, logs: Path, tag: str,
) -> list[Measurement]:
    """Each path family on its own fresh database."""
    out = []
    url = new_database()
    try:
        out += await store_paths(kind, url, budget)
    finally:
        drop(url)
    url = new_database()
    try:
        out += await producer_paths(kind, url, budget)
    finally:
        drop(url)
    url = new_database()
    try:
        out += await http_paths(kind, url, budget, log_level, logs, tag)
    finally:
        drop(url)
    return out
