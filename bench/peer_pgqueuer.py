"""PgQueuer's side of `--peers`, on the same PostgreSQL server as conveyor.

Every case gets a fresh database (`bench.environment.Databases`, so it also holds conveyor's
empty schema, which PgQueuer never touches) with PgQueuer's own tables installed.

- Consumers: `QueueManager` on one asyncpg connection, on uvloop as PgQueuer's own CLI runs
  it; `max_concurrent_tasks` = the slots, batches of half of that (PgQueuer requires the cap
  to be at least twice the batch). Drains run in its `drain` mode (the process exits when
  the queue is empty); latency runs its `continuous` mode, woken by its NOTIFY trigger.
- Enqueue: `Queries.enqueue` from this process on the default asyncio loop (like conveyor's
  `store.submit` case), over an asyncpg pool of `concurrency` connections: one job per call
  with 1 and with `concurrency` calls in flight, and lists of 1,000 per call (its batch
  path: one multi-row INSERT; PgQueuer 1.6 has no COPY-based enqueue). The payload is the
  JSON conveyor's jobs carry, `{"n": …}`, as bytes.
- Latency: "finished" is the job's row gone from PgQueuer's queue table (moved to its log,
  which it does in batches, at the latest 0.1 s after the handler returned).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from bench.drain import DrainCase
from bench.enqueue import BATCH, EnqueueBudget, drive, measure
from bench.environment import Databases, cpu_between, cpu_snapshot
from bench.peers import (
    FILL_BATCH,
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

PEER = "pgqueuer"


def consume(url: str, task: str, slots: int, continuous: bool,
            stamper: Stamper | None) -> list[tuple[float, float]]:
    """A consumer process's body (`bench.peers.consumer_main`)."""
    uvloop = optional("uvloop")
    result: list[tuple[float, float]] = uvloop.run(
        _consume(url, task, slots, continuous, stamper))
    return result


async def _consume(url: str, task: str, slots: int, continuous: bool,
                   stamper: Stamper | None) -> list[tuple[float, float]]:
    asyncpg = optional("asyncpg")
    pgqueuer = optional("pgqueuer")
    types = optional("pgqueuer.types")
    times: list[tuple[float, float]] = []
    connection = await asyncpg.connect(url)
    manager = pgqueuer.QueueManager(pgqueuer.Queries(pgqueuer.AsyncpgDriver(connection)))

    async def bench_noop(job: Any) -> None:
        now = time.time()
        times.append((now, now))

    async def bench_sleep10(job: Any) -> None:
        started = time.time()
        await asyncio.sleep(SLEEP_SEC)
        times.append((started, time.time()))

    async def bench_stamp(job: Any) -> None:
        started = time.time()
        if stamper is not None:
            stamper.send(int(json.loads(job.payload)["n"]), started)
        times.append((started, time.time()))

    handlers = {"bench_noop": bench_noop, "bench_sleep10": bench_sleep10,
                "bench_stamp": bench_stamp}
    manager.entrypoint(task)(handlers[task])
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, manager.shutdown.set)
    mode = types.QueueExecutionMode.continuous if continuous else types.QueueExecutionMode.drain
    await manager.run(batch_size=max(1, slots // 2), max_concurrent_tasks=slots, mode=mode)
    return times


class Context:
    """Fresh databases on the bench's PostgreSQL server, and where the logs go."""

    def __init__(self, postgres_url: str, logs: Path, tag: str) -> None:
        self.databases = Databases("postgres", postgres_url)
        self.logs = logs
        self.tag = tag

    async def new(self) -> tuple[str, Any, Any]:
        """A fresh database with PgQueuer installed: (url, connection, queries)."""
        asyncpg = optional("asyncpg")
        pgqueuer = optional("pgqueuer")
        url = self.databases.new()
        connection = await asyncpg.connect(url)
        queries = pgqueuer.Queries(pgqueuer.AsyncpgDriver(connection))
        await queries.install()
        return url, connection, queries

    def close(self) -> None:
        self.databases.close()


def _payload(n: int) -> bytes:
    return json.dumps({"n": n}).encode()


async def drain_case(context: Context, case: DrainCase) -> list[Measurement]:
    url, connection, queries = await context.new()
    try:
        started_fill = time.monotonic()
        for first in range(0, case.jobs, FILL_BATCH):
            count = min(FILL_BATCH, case.jobs - first)
            await queries.enqueue([case.task] * count, [_payload(first + i) for i in range(count)],
                                  [0] * count)
        fill_sec = time.monotonic() - started_fill
        await connection.close()
        outs = [context.logs / f"{context.tag}-{case.key}-{i}.json" for i in range(case.processes)]
        processes = [start_consumer(PEER, url, case.task, case.concurrency, out,
                                    context.logs / f"{context.tag}-{i}.log")
                     for i, out in enumerate(outs)]
        pids = [p.pid for p in processes]
        before = last = cpu_snapshot(pids)

        def exited() -> bool:
            # Drain mode: the consumers exit by themselves, and their database backends a
            # moment before them. Read everyone's CPU while they live, keeping the last
            # reading of each process (one that has gone would otherwise count as 0).
            nonlocal last
            if any(p.poll() is None for p in processes):
                now = cpu_snapshot(pids)
                now.children = {**last.children, **{k: v for k, v in now.children.items() if v}}
                now.database = {**last.database, **now.database}
                last = now
                return False
            return True

        await until(exited, case.timeout)
        cpu = cpu_between(before, last)
        stop(processes)
        return drain_measurements(PEER, case, collect(outs), fill_sec, cpu)
    finally:
        context.databases.drop(url)


async def enqueue_cases(context: Context, budget: EnqueueBudget) -> list[Measurement]:
    asyncpg = optional("asyncpg")
    pgqueuer = optional("pgqueuer")
    url, connection, _ = await context.new()
    await connection.close()
    out = []
    try:
        pool = await asyncpg.create_pool(url, min_size=budget.concurrency,
                                         max_size=budget.concurrency)
        try:
            queries = pgqueuer.Queries(pgqueuer.AsyncpgPoolDriver(pool))
            await queries.enqueue("bench_noop", _payload(0), 0)  # warm the pool
            for inflight in (1, budget.concurrency):
                async def one(n: int) -> None:
                    await queries.enqueue("bench_noop", _payload(n), 0)

                before = cpu_snapshot([])
                done, elapsed, durations = await drive(inflight, 1, budget, one)
                out.append(measure(
                    f"enqueue.store.submit.c{inflight}",
                    f"enqueue: store.submit, {inflight} in flight", PEER, done, elapsed,
                    durations, cpu_between(before, cpu_snapshot([])),
                ))

            async def many(n: int) -> None:
                await queries.enqueue(["bench_noop"] * BATCH,
                                      [_payload(n + i) for i in range(BATCH)], [0] * BATCH)

            before = cpu_snapshot([])
            done, elapsed, durations = await drive(1, BATCH, budget, many)
            out.append(measure(
                "enqueue.store.submit_many", f"enqueue: store.submit_many, {BATCH} per call",
                PEER, done, elapsed, durations, cpu_between(before, cpu_snapshot([])),
            ))
        finally:
            await pool.close()
    finally:
        context.databases.drop(url)
    return out


async def latency_case(context: Context, samples: int, slots: int) -> list[Measurement]:
    url, connection, queries = await context.new()
    stamps, transport, port = await open_stamps()
    out = context.logs / f"{context.tag}-latency.json"
    consumer = start_consumer(PEER, url, "bench_stamp", slots, out,
                              context.logs / f"{context.tag}-latency.log", continuous=True,
                              stamp_port=port)
    table = queries.qbe.settings.queue_table
    try:
        async def enqueue(n: int) -> Any:
            return (await queries.enqueue("bench_stamp", _payload(n), 0))[0]

        async def wait_done(job_id: Any) -> None:
            deadline = time.monotonic() + 10
            while await connection.fetchval(f"SELECT 1 FROM {table} WHERE id = $1", job_id):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PgQueuer job {job_id} not done within 10 s")
                await asyncio.sleep(0.005)

        return await pickup_latency(PEER, samples, stamps, enqueue, wait_done)
    finally:
        stop([consumer])
        transport.close()
        await connection.close()
        context.databases.drop(url)
