"""procrastinate's side of `--peers`, for the enqueue cases only, on the same PostgreSQL server
as conveyor (a fresh database per case with procrastinate's schema applied).

- Enqueue: `Task.defer_async` from this process on the default asyncio loop, through its
  `PsycopgConnector` (psycopg 3, like conveyor) with a pool of `concurrency` connections, one
  job per call with 1 and with `concurrency` calls in flight, and `batch_defer_async` with
  1,000 jobs per call. The job's arguments are `{"n": …}`, what conveyor's jobs carry.

procrastinate is in the table for the producer side the Python-side issue compares; its
workers are not measured here (PgQueuer and huey are the drain and latency peers).
"""

from __future__ import annotations

from pathlib import Path

from bench.enqueue import BATCH, EnqueueBudget, drive, measure
from bench.environment import Databases, cpu_between, cpu_snapshot
from bench.peers import optional
from bench.results import Measurement

PEER = "procrastinate"


class Context:
    """Fresh databases on the bench's PostgreSQL server."""

    def __init__(self, postgres_url: str, logs: Path, tag: str) -> None:
        self.databases = Databases("postgres", postgres_url)
        self.logs = logs
        self.tag = tag

    def close(self) -> None:
        self.databases.close()


async def enqueue_cases(context: Context, budget: EnqueueBudget) -> list[Measurement]:
    procrastinate = optional("procrastinate")
    url = context.databases.new()
    out = []
    try:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=url, min_size=budget.concurrency, max_size=budget.concurrency))

        @app.task(name="bench_noop")
        async def bench_noop(n: int) -> None:
            return None

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            await bench_noop.defer_async(n=0)  # warm the pool
            for inflight in (1, budget.concurrency):
                async def one(n: int) -> None:
                    await bench_noop.defer_async(n=n)

                before = cpu_snapshot([])
                done, elapsed, durations = await drive(inflight, 1, budget, one)
                out.append(measure(
                    f"enqueue.store.submit.c{inflight}",
                    f"enqueue: store.submit, {inflight} in flight", PEER, done, elapsed,
                    durations, cpu_between(before, cpu_snapshot([])),
                ))

            async def many(n: int) -> None:
                await bench_noop.batch_defer_async(*({"n": n + i} for i in range(BATCH)))

            before = cpu_snapshot([])
            done, elapsed, durations = await drive(1, BATCH, budget, many)
            out.append(measure(
                "enqueue.store.submit_many", f"enqueue: store.submit_many, {BATCH} per call",
                PEER, done, elapsed, durations, cpu_between(before, cpu_snapshot([])),
            ))
    finally:
        context.databases.drop(url)
    return out
