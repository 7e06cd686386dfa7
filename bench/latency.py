"""Pickup latency: how soon an idle worker starts a job that was just submitted.

One `conveyor worker` process (idle, `concurrency` slots) on an empty database; the bench
submits one `bench_stamp` job at a time through `store.submit`, waits for it to finish and
for a random pause (so the worker is idle again and nothing is batched), then reads:

- to lease: the `job_leased` event's `at` (the store's clock) - the moment `submit`
  returned, i.e. the commit as the producer saw it;
- to handler: the wall-clock time the handler recorded when it started - the same moment.

Both clocks are this machine's (the database runs on 127.0.0.1), so they compare directly.
With PostgreSQL the worker is woken by LISTEN/NOTIFY; with SQLite by its peers' datagrams.

Then scheduled jobs: a few jobs submitted together with `run_at` 2 s ahead and a quarter of a
second apart, so each comes due on its own while the worker is idle; the figure is how late
each handler starts after its `run_at` (the worker sleeps until the earliest due job).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.processes import WorkerTweaks, start_workers, stop_all
from bench.results import Measurement, percentile
from conveyor.models import EventType, JobStatus, NewJob
from conveyor.store import Store, connect_store

WARMUP = 5


async def _wait_done(store: Store, job_id: object, first_check: float) -> None:
    await asyncio.sleep(first_check)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = await store.get(job_id)  # type: ignore[arg-type]
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            return
        await asyncio.sleep(0.005)
    raise RuntimeError(f"job {job_id} not done within 10 s")


async def run_latency(
    kind: str, samples: int, concurrency: int, new_database: Callable[[], str],
    drop: Callable[[str], None], log_level: str, logs: Path, tag: str,
    tweaks: WorkerTweaks | None = None,
) -> list[Measurement]:
    url = new_database()
    rng = random.Random(1)
    first_check = 0.005 if kind == "postgres" else 0.06
    try:
        store = await connect_store(url)
        workers = start_workers(1, concurrency, url, log_level, logs, tag, tweaks)
        try:
            deadline = time.monotonic() + 30
            while not await store.list_workers(60):
                if not workers[0].alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{workers[0].tail()}")
                await asyncio.sleep(0.05)
            to_lease: list[float] = []
            to_handler: list[float] = []
            submit_ms: list[float] = []
            for index in range(WARMUP + samples):
                await asyncio.sleep(rng.uniform(0.02, 0.05))
                before = time.time()
                result = await store.submit(NewJob(task="bench_stamp", payload={"n": index}))
                committed = time.time()
                await _wait_done(store, result.job.id, first_check)
                if index < WARMUP:
                    continue
                job = await store.get(result.job.id)
                events = await store.job_events(result.job.id)
                leased = next(e for e in events if e.type is EventType.LEASED)
                to_lease.append(leased.at.timestamp() - committed)
                to_handler.append(float(job.result["started"]) - committed)
                submit_ms.append((committed - before) * 1000)
            late = await _scheduled_lateness(store, max(8, samples // 5))
        finally:
            stop_all(workers)
            await store.close()
    finally:
        drop(url)
    return (pickup_measurements(kind, "lease", to_lease, submit_ms)
            + pickup_measurements(kind, "handler", to_handler, submit_ms)
            + scheduled_measurements(kind, late))


SCHEDULE_AHEAD_SEC = 2.0
SCHEDULE_SPACING_SEC = 0.25


async def _scheduled_lateness(store: Store, count: int) -> list[float]:
    """Seconds from each scheduled job's `run_at` to its handler's start."""
    first = datetime.now(UTC) + timedelta(seconds=SCHEDULE_AHEAD_SEC)
    jobs = [(await store.submit(NewJob(
        task="bench_stamp", payload={"n": -1 - index},
        run_at=first + timedelta(seconds=index * SCHEDULE_SPACING_SEC)))).job
        for index in range(count)]
    await asyncio.sleep(SCHEDULE_AHEAD_SEC + count * SCHEDULE_SPACING_SEC)
    late: list[float] = []
    for job in jobs:
        await _wait_done(store, job.id, 0.0)
        done = await store.get(job.id)
        late.append(float(done.result["started"]) - done.run_at.timestamp())
    return late


def scheduled_measurements(store: str, late: list[float]) -> list[Measurement]:
    details = {"samples": len(late), "ahead_sec": SCHEDULE_AHEAD_SEC,
               "max_ms": round(max(late) * 1000, 3) if late else None,
               "min_ms": round(min(late) * 1000, 3) if late else None}
    return [
        Measurement(
            key=f"latency.scheduled.p{q}", label=f"scheduled start, run_at → handler, p{q}",
            store=store, value=percentile(late, q) * 1000, unit="ms", details=details,
            higher_is_better=False,
        )
        for q in (50, 99)
    ]


def pickup_measurements(
    store: str, name: str, values: list[float], submit_ms: list[float]
) -> list[Measurement]:
    """p50/p95/p99 of one pickup interval (seconds) as rows of the table: `name` is "lease"
    (to the `job_leased` event) or "handler" (to the handler's start). The peers report
    "handler" rows through this too, so their figures land in the same rows."""
    details = {
        "samples": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 3),
        "p95_ms": round(percentile(values, 95) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3) if values else None,
        "submit_ms_p50": round(percentile(submit_ms, 50), 3),
    }
    return [
        Measurement(
            key=f"latency.{name}.p{q}",
            label=f"pickup latency, commit → {name} start, p{q}"
            if name == "handler" else f"pickup latency, commit → job_leased, p{q}",
            store=store, value=percentile(values, q) * 1000, unit="ms",
            details=details, higher_is_better=False,
        )
        for q in (50, 95, 99)
    ]
