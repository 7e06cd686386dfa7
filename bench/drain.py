"""Drain throughput: how fast real `conveyor worker` processes empty a full queue.

The queue is filled first (`store.submit_many`, no worker running), then the workers start.
The rate is read from the jobs' own timestamps, not from the bench's clock, so worker start-up
(Python imports, connecting) is not counted:

- `jobs/s` (the headline): completions per second between the 10th and the 90th percentile
  of `finished_at`, the steady state once every process is up;
- `window_rate` (in the JSON): all jobs / (last `finished_at` - first `started_at`).

For 10 ms jobs the ceiling is slots / 0.01 s (10 slots: 1,000 jobs/s per process); the
fraction of it reached shows how much of each slot the per-job overhead takes.

CPU seconds of the workers, the PostgreSQL server and the machine during the drain are kept
per run, to say where the time goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.environment import cpu_between, cpu_snapshot
from bench.processes import WorkerTweaks, start_workers, stop_all
from bench.results import Measurement
from conveyor.models import NewJob
from conveyor.store import connect_store
from conveyor.store.sqlite import sqlite_path_from_url

FILL_BATCH = 1000
SLEEP_SEC = 0.01


@dataclass(frozen=True)
class DrainCase:
    task: str  # bench_noop or bench_sleep10
    processes: int
    concurrency: int
    jobs: int
    timeout: float

    @property
    def key(self) -> str:
        return f"drain.{self.task}.{self.processes}x{self.concurrency}"

    @property
    def label(self) -> str:
        what = "no-op" if self.task == "bench_noop" else "10 ms"
        plural = "es" if self.processes > 1 else ""
        return f"drain {what} jobs, {self.processes} process{plural} x {self.concurrency} slots"

    @property
    def ceiling(self) -> float | None:
        if self.task != "bench_sleep10":
            return None
        return self.processes * self.concurrency / SLEEP_SEC


def job_times(kind: str, url: str, task: str) -> list[tuple[float, float]]:
    """(started_at, finished_at) in epoch seconds of every done job of `task` (not the
    history a growth case stored beforehand under another task name)."""
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(sqlite_path_from_url(url))) as conn:
            rows = conn.execute(
                "SELECT started_at, finished_at FROM jobs WHERE status = 'done' AND task = ?",
                (task,),
            ).fetchall()
        return [(float(a), float(b)) for a, b in rows]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM started_at)::float8, extract(epoch FROM finished_at)::float8"
            " FROM jobs WHERE status = 'done' AND task = %s", (task,)
        ).fetchall()
    return [(float(a), float(b)) for a, b in rows]


def postgres_transactions(kind: str, url: str) -> int | None:
    """Transactions committed or rolled back in the database so far: with autocommit
    statements, about one per round trip. None for SQLite."""
    if kind != "postgres":
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else None


class WaitSampler:
    """Samples what the database's active backends wait on, every 100 ms during a drain:
    `Lock:advisory` is the event-order lock, `IO:WALSync` the commit's fsync, `CPU` a
    backend running. Shares of all samples say where the server's time goes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND pid <> pg_backend_pid()"
                )
                self.samples += 1
                for (name,) in await cur.fetchall():
                    self.counts[name] = self.counts.get(name, 0) + 1
                await asyncio.sleep(0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        """Average number of active backends in each state (top 6)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._task
        top = sorted(self.counts.items(), key=lambda item: -item[1])[:6]
        return {name: round(count / max(1, self.samples), 3) for name, count in top}


def rates(times: list[tuple[float, float]]) -> dict[str, float]:
    """Steady (p10-p90 of completions) and whole-window rates."""
    n = len(times)
    if n < 10:
        return {"steady_rate": float("nan"), "window_rate": float("nan"), "window_sec": 0.0}
    finished = sorted(f for _, f in times)
    first_start = min(s for s, _ in times)
    lo, hi = int(n * 0.1), int(n * 0.9)
    span = finished[hi] - finished[lo]
    window = finished[-1] - first_start
    return {
        "steady_rate": (hi - lo) / span if span > 0 else float("nan"),
        "window_rate": n / window if window > 0 else float("nan"),
        "window_sec": round(window, 3),
    }


async def fill(url: str, task: str, jobs: int) -> float:
    """Submit `jobs` jobs in batches; returns the seconds it took."""
    store = await connect_store(url)
    started = time.monotonic()
    try:
        for first in range(0, jobs, FILL_BATCH):
            count = min(FILL_BATCH, jobs - first)
            await store.submit_many(
                [NewJob(task=task, payload={"n": first + i}) for i in range(count)]
            )
    finally:
        await store.close()
    return time.monotonic() - started


async def run_drain(
    kind: str, case: DrainCase, new_database: Callable[[], str],
    drop: Callable[[str], None], log_level: str, logs: Path, tag: str,
    tweaks: WorkerTweaks | None = None,
) -> Measurement:
    url = new_database()
    try:
        fill_sec = await fill(url, case.task, case.jobs)
        store = await connect_store(url)
        base = await store.counts()  # a growth case starts with finished jobs stored
        transactions_before = postgres_transactions(kind, url)
        workers = start_workers(case.processes, case.concurrency, url, log_level, logs, tag,
                                tweaks)
        try:
            sampler = WaitSampler(url) if kind == "postgres" else None
            if sampler is not None:
                sampler.start()
            before = cpu_snapshot([w.pid for w in workers])
            started = time.monotonic()
            done = failed = 0
            timed_out = False
            while True:
                await asyncio.sleep(0.25)
                counts = await store.counts()
                done, failed = counts.done - base.done, counts.failed - base.failed
                if done + failed >= case.jobs:
                    break
                dead = [w for w in workers if not w.alive()]
                if dead:
                    raise RuntimeError(f"a worker exited during the drain:\n{dead[0].tail()}")
                if time.monotonic() - started > case.timeout:
                    timed_out = True
                    break
            cpu = cpu_between(before, cpu_snapshot([w.pid for w in workers]))
            wall = time.monotonic() - started
            waits = await sampler.stop() if sampler is not None else None
        finally:
            stop_all(workers)
            await store.close()
        times = job_times(kind, url, case.task)
        measured = rates(times)
        transactions_after = postgres_transactions(kind, url)
        details = {
            "jobs": case.jobs, "done": len(times), "failed": failed, "timed_out": timed_out,
            "fill_sec": round(fill_sec, 3), "wall_sec_incl_startup": round(wall, 3),
            **{k: round(v, 1) if k.endswith("rate") else v for k, v in measured.items()},
            "cpu_seconds": cpu,
        }
        if waits is not None:
            details["postgres_active_backends"] = waits
        if transactions_before is not None and transactions_after is not None and times:
            # Every process's statements, the bench's progress polls included (5 a second).
            details["transactions_per_job"] = round(
                (transactions_after - transactions_before) / len(times), 3
            )
        if times:
            details["cpu_ms_per_job"] = {
                part: round(seconds * 1000 / len(times), 4)
                for part, seconds in cpu.items() if not part.endswith("fraction")
            }
        value = measured["steady_rate"]
        if case.ceiling:
            details["ceiling"] = case.ceiling
            details["ceiling_fraction"] = round(value / case.ceiling, 4)
        return Measurement(key=case.key, label=case.label, store=kind, value=value,
                           unit="jobs/s", details=details)
    finally:
        drop(url)


def ceiling_measurement(m: Measurement, case: DrainCase) -> Measurement:
    """The same run expressed as a percentage of the slot ceiling."""
    assert case.ceiling
    return Measurement(
        key=case.key + ".ceiling",
        label=f"  … as % of the ceiling ({case.ceiling:,.0f} jobs/s)",
        store=m.store, value=100 * m.value / case.ceiling, unit="%",
    )
