"""huey's side of `--peers`, on Redis at 127.0.0.1:6379.

Every case uses a queue name of its own (`conveyor-bench-<pid>-…`), flushed afterwards.

- Consumers: `RedisHuey` (BRPOP, results not stored), `slots` thread workers, no periodic
  tasks, polling delays of 1-50 ms (huey's defaults, 0.1-10 s, are for idle queues). The
  tasks are `time.sleep(0.01)` for the 10 ms jobs (thread workers block), nothing for the
  no-op ones. A drain is over when the queue is empty and 0.3 s have passed.
- Enqueue: calling the task (one LPUSH of the pickled message), from threads of this process,
  since huey's client is synchronous: 1 thread, and `concurrency` threads for as many calls
  in flight. huey has no bulk enqueue, so the 1,000-per-call row says n/a.
- Latency: the handler does nothing after sending its start time, and huey writes nothing
  back to Redis for it (results are off), so "finished" is that datagram's arrival.

The tasks are registered from this module in both the bench and the consumers: huey names a
task by its function's module, and the two sides' names must match.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.drain import DrainCase
from bench.enqueue import BATCH, EnqueueBudget, measure
from bench.environment import cpu_between, cpu_snapshot
from bench.peers import (
    REDIS_HOST,
    REDIS_PORT,
    SLEEP_SEC,
    Stamper,
    collect,
    drain_measurements,
    open_stamps,
    optional,
    pickup_latency,
    start_consumer,
    stop,
    until,
)
from bench.results import Measurement

PEER = "huey"

_times: list[tuple[float, float]] = []
_stamper: Stamper | None = None
"""What the consumer's handlers record into (set by `consume`)."""


def bench_noop(n: int) -> None:
    now = time.time()
    _times.append((now, now))


def bench_sleep10(n: int) -> None:
    started = time.time()
    time.sleep(SLEEP_SEC)
    _times.append((started, time.time()))


def bench_stamp(n: int) -> None:
    started = time.time()
    if _stamper is not None:
        _stamper.send(n, started)
    _times.append((started, time.time()))


def _huey(name: str) -> tuple[Any, dict[str, Any]]:
    """The queue and its tasks, by name."""
    huey = optional("huey").RedisHuey(name, host=REDIS_HOST, port=REDIS_PORT, results=False)
    tasks = {func.__name__: huey.task(name=func.__name__)(func)
             for func in (bench_noop, bench_sleep10, bench_stamp)}
    return huey, tasks


def consume(name: str, task: str, slots: int, stamper: Stamper | None) -> list[tuple[float, float]]:
    """A consumer process's body (`bench.peers.consumer_main`): until SIGTERM."""
    global _stamper
    _stamper = stamper
    huey, _ = _huey(name)
    consumer = huey.create_consumer(workers=slots, worker_type="thread", periodic=False,
                                    initial_delay=0.001, max_delay=0.05,
                                    check_worker_health=False)
    consumer.run()
    return list(_times)


class Context:
    """Queue names of this run, and where the logs go."""

    def __init__(self, postgres_url: str, logs: Path, tag: str) -> None:
        self.logs = logs
        self.tag = tag

    def name(self, case: str) -> str:
        return f"conveyor-bench-{os.getpid()}-{self.tag}-{case}"

    def close(self) -> None:
        pass


async def drain_case(context: Context, case: DrainCase) -> list[Measurement]:
    name = context.name(case.key)
    huey, tasks = _huey(name)
    try:
        started_fill = time.monotonic()
        for n in range(case.jobs):
            tasks[case.task](n)
        fill_sec = time.monotonic() - started_fill
        outs = [context.logs / f"{context.tag}-{case.key}-{i}.json" for i in range(case.processes)]
        processes = [start_consumer(PEER, name, case.task, case.concurrency, out,
                                    context.logs / f"{context.tag}-{i}.log")
                     for i, out in enumerate(outs)]
        try:
            before = cpu_snapshot([p.pid for p in processes])
            await until(lambda: huey.pending_count() == 0, case.timeout)
            await asyncio.sleep(0.3)  # the last dequeued tasks finish
            cpu = cpu_between(before, cpu_snapshot([p.pid for p in processes]))
        finally:
            stop(processes)
    finally:
        huey.flush()
    return drain_measurements(PEER, case, collect(outs), fill_sec, cpu)


def _drive_threads(
    threads: int, budget: EnqueueBudget, call: Any
) -> tuple[int, float, list[float]]:
    """`bench.enqueue.drive` with threads: `call(n)` from `threads` threads until the budget
    is spent; jobs, seconds, call times."""
    lock = threading.Lock()
    issued = 0
    durations: list[float] = []
    start = time.monotonic()
    deadline = start + budget.seconds

    def loop() -> None:
        nonlocal issued
        while time.monotonic() < deadline:
            with lock:
                if issued + 1 > budget.max_jobs:
                    return
                issued += 1
                n = issued
            began = time.monotonic()
            call(n)
            durations.append(time.monotonic() - began)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(durations), time.monotonic() - start, durations


async def enqueue_cases(context: Context, budget: EnqueueBudget) -> list[Measurement]:
    name = context.name("enqueue")
    huey, tasks = _huey(name)
    out = []
    try:
        tasks["bench_noop"](0)  # connect
        for inflight in (1, budget.concurrency):
            before = cpu_snapshot([])
            done, elapsed, durations = await asyncio.to_thread(
                _drive_threads, inflight, budget, tasks["bench_noop"])
            out.append(measure(
                f"enqueue.store.submit.c{inflight}",
                f"enqueue: store.submit, {inflight} in flight", PEER, done, elapsed, durations,
                cpu_between(before, cpu_snapshot([])),
            ))
    finally:
        huey.flush()
    out.append(Measurement(
        key="enqueue.store.submit_many", label=f"enqueue: store.submit_many, {BATCH} per call",
        store=PEER, value=float("nan"), unit="jobs/s",
        details={"why": "huey has no bulk enqueue"},
    ))
    return out


async def latency_case(context: Context, samples: int, slots: int) -> list[Measurement]:
    name = context.name("latency")
    huey, tasks = _huey(name)
    stamps, transport, port = await open_stamps()
    out = context.logs / f"{context.tag}-latency.json"
    consumer = start_consumer(PEER, name, "bench_stamp", slots, out,
                              context.logs / f"{context.tag}-latency.log", stamp_port=port)
    try:
        async def enqueue(n: int) -> None:
            tasks["bench_stamp"](n)

        async def wait_done(handle: Any) -> None:
            return None

        return await pickup_latency(PEER, samples, stamps, enqueue, wait_done)
    finally:
        stop([consumer])
        transport.close()
        huey.flush()
