"""Cost growth (`--only growth`): does conveyor slow down or swell as history accumulates?

A queue that has run for months holds millions of finished jobs and their events. Leasing
and `/metrics` are meant not to see them (partial indexes on live rows; per-status counters
instead of counting the table); these cases check that, per store:

- (a) the no-op drain (1 process x `concurrency` slots, as `bench.drain` measures it) on a
  store holding `--growth-rows` done jobs (default 1,000,000, with their three events each,
  written by `bench.prefill`) against the same drain on an empty store, and the ratio;
- (b) `GET /metrics` (the JSON counts) against one `conveyor api` process: p50/p99 of 200
  sequential requests over one keep-alive connection, after 20 unmeasured ones, on the same
  two stores (measured before their drain), and the ratios;
- (c) worker memory: one `conveyor worker` drains `--growth-drain-jobs` no-op jobs (default
  1,000,000, written as a pending backlog by `bench.prefill`); its RSS (`VmRSS`) is sampled
  every 0.5 s with the progress, and the rows are the RSS when 10 % of the jobs were done,
  at the end, and end / 10 %. A worker that keeps something per job grows with the count.

Not part of the default run: with the full sizes it takes tens of minutes (`make
bench-growth`); `--quick` shrinks it to 50,000 stored jobs and a 30,000-job drain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.drain import DrainCase, run_drain
from bench.environment import Databases, cpu_between, cpu_snapshot, process_rss_mib
from bench.httpclient import HttpConnection
from bench.prefill import HISTORY_TASK, fill_jobs
from bench.processes import WorkerTweaks, start_api, start_workers, stop_all, wait_http_ok
from bench.results import Measurement, percentile
from conveyor.store import connect_store

METRICS_WARMUP = 20
SAMPLE_SEC = 0.5


@dataclass(frozen=True)
class GrowthPlan:
    rows: int  # done jobs stored before (a) and (b)
    drain_jobs: int  # no-op jobs drained in (a), on each store
    metrics_requests: int  # (b)
    memory_jobs: int  # the drain of (c)
    concurrency: int


async def _migrated(url: str) -> None:
    """Open the store once, so its schema exists before the fill writes into it."""
    store = await connect_store(url)
    await store.close()


async def _metrics_latency(url: str, requests: int, log_level: str, logs: Path,
                           tag: str) -> tuple[list[float], dict[str, float]]:
    """Seconds per `GET /metrics` request, one at a time, and the CPU seconds meanwhile."""
    api, port = start_api(url, log_level, logs, tag)
    try:
        await wait_http_ok(port, api)
        async with HttpConnection(port) as connection:
            durations = []
            before = cpu_snapshot([api.pid])
            for index in range(METRICS_WARMUP + requests):
                if index == METRICS_WARMUP:
                    before = cpu_snapshot([api.pid])
                began = time.perf_counter()
                status, body = await connection.get("/metrics")
                took = time.perf_counter() - began
                if status != 200:
                    raise RuntimeError(f"GET /metrics answered {status}: {body[:300]!r}")
                if index >= METRICS_WARMUP:
                    durations.append(took)
            return durations, cpu_between(before, cpu_snapshot([api.pid]))
    finally:
        api.stop()


def _ratio(key: str, label: str, store: str, num: float, den: float,
           higher_is_better: bool) -> Measurement:
    return Measurement(key=key, label=label, store=store,
                       value=num / den if den > 0 else float("nan"), unit="x",
                       details={"numerator": num, "denominator": den},
                       higher_is_better=higher_is_better)


async def _one_store(
    kind: str, rows: int, plan: GrowthPlan, databases: Databases, log_level: str, logs: Path,
    tag: str, tweaks: WorkerTweaks | None,
) -> tuple[Measurement, list[float], dict[str, Any]]:
    """(a) and (b) on a fresh store holding `rows` done jobs (0: empty)."""
    url = databases.new()
    handed_over = False
    try:
        await _migrated(url)
        fill_sec = 0.0
        if rows:
            fill_sec = await asyncio.to_thread(fill_jobs, kind, url, rows, "done",
                                               HISTORY_TASK)
            print(f"  {kind:8} growth: {rows:,} done jobs written in {fill_sec:.1f} s",
                  flush=True)
        latencies, cpu = await _metrics_latency(url, plan.metrics_requests, log_level, logs,
                                                f"{tag}-metrics-{rows}")
        case = DrainCase("bench_noop", 1, plan.concurrency, plan.drain_jobs, timeout=120)
        handed_over = True  # run_drain drops the database when it is done
        drain = await run_drain(kind, case, lambda: url, databases.drop, log_level, logs,
                                f"{tag}-drain-{rows}", tweaks)
        return drain, latencies, {"stored_rows": rows, "fill_sec": round(fill_sec, 2),
                                  "metrics_cpu_seconds": cpu}
    finally:
        if not handed_over:
            databases.drop(url)


async def _memory(
    kind: str, plan: GrowthPlan, databases: Databases, log_level: str, logs: Path, tag: str,
    tweaks: WorkerTweaks | None,
) -> list[Measurement]:
    """(c): RSS of one worker over a long drain."""
    jobs = plan.memory_jobs
    url = databases.new()
    try:
        await _migrated(url)
        fill_sec = await asyncio.to_thread(fill_jobs, kind, url, jobs, "pending", "bench_noop")
        print(f"  {kind:8} growth: {jobs:,} pending jobs written in {fill_sec:.1f} s; "
              "draining them", flush=True)
        store = await connect_store(url)
        workers = start_workers(1, plan.concurrency, url, log_level, logs, f"{tag}-memory",
                                tweaks)
        worker = workers[0]
        samples: list[tuple[float, int, float]] = []  # (seconds since start, done, RSS MiB)
        timeout = max(120.0, jobs / 250)
        timed_out = False
        started = time.monotonic()
        next_report = 0.1
        try:
            while True:
                await asyncio.sleep(SAMPLE_SEC)
                counts = await store.counts()
                done = counts.done + counts.failed
                rss = process_rss_mib(worker.pid)
                if rss is None or not worker.alive():
                    raise RuntimeError(f"the worker exited during the drain:\n{worker.tail()}")
                samples.append((time.monotonic() - started, done, rss))
                if done >= next_report * jobs:
                    print(f"  {kind:8} growth: {done:,} of {jobs:,} done, worker RSS "
                          f"{rss:.1f} MiB", flush=True)
                    while done >= next_report * jobs:
                        next_report += 0.1
                if done >= jobs:
                    break
                if time.monotonic() - started > timeout:
                    timed_out = True
                    break
        finally:
            stop_all(workers)
            await store.close()
    finally:
        databases.drop(url)
    at_tenth = next((s for s in samples if s[1] >= jobs * 0.1), samples[-1])
    end = samples[-1]
    details = {
        "jobs": jobs, "done": end[1], "timed_out": timed_out, "fill_sec": round(fill_sec, 2),
        "wall_sec": round(end[0], 1), "rss_peak_mib": round(max(s[2] for s in samples), 1),
        "rate_first_tenth": _rate_between(samples, 0.0, 0.1, jobs),
        "rate_last_tenth": _rate_between(samples, 0.9, 1.0, jobs),
        # Every 20th sample, so the JSON stays small even for an hour-long drain.
        "samples": [(round(t, 1), d, round(r, 1)) for t, d, r in samples[::20]],
    }
    what = f"growth: worker RSS during a {jobs:,}-job no-op drain"
    key = f"growth.memory.j{jobs}"
    return [
        Measurement(key=f"{key}.rss10", label=f"{what}, at 10 %", store=kind,
                    value=at_tenth[2], unit="MiB", details=details, higher_is_better=False),
        Measurement(key=f"{key}.rss_end", label=f"{what}, at the end", store=kind,
                    value=end[2], unit="MiB", higher_is_better=False),
        _ratio(f"{key}.ratio", "  … end / 10 %", kind, end[2], at_tenth[2], False),
    ]


def _rate_between(samples: list[tuple[float, int, float]], lo: float, hi: float,
                  jobs: int) -> float | None:
    """Jobs/s between the samples where `lo` and `hi` of the jobs were done."""
    first = next((s for s in samples if s[1] >= lo * jobs), None)
    last = next((s for s in samples if s[1] >= hi * jobs), None)
    if first is None or last is None or last[0] <= first[0]:
        return None
    return round((last[1] - first[1]) / (last[0] - first[0]), 1)


async def run_growth(
    kind: str, plan: GrowthPlan, databases: Databases, add: Callable[[Measurement], None],
    log_level: str, logs: Path, tag: str, tweaks: WorkerTweaks | None = None,
) -> None:
    """All three cases on one store kind; each row goes to `add` as soon as it is known."""
    empty_drain, empty_metrics, empty_info = await _one_store(
        kind, 0, plan, databases, log_level, logs, tag, tweaks)
    grown_drain, grown_metrics, grown_info = await _one_store(
        kind, plan.rows, plan, databases, log_level, logs, tag, tweaks)
    slots = f"1 x {plan.concurrency} slots"
    stored = f"{plan.rows:,} done jobs stored"
    add(dataclasses.replace(
        empty_drain, key="growth.drain.empty",
        label=f"growth: drain no-op jobs, {slots}, empty store",
        details={**empty_drain.details, **empty_info}))
    add(dataclasses.replace(
        grown_drain, key=f"growth.drain.r{plan.rows}",
        label=f"growth: drain no-op jobs, {slots}, {stored}",
        details={**grown_drain.details, **grown_info}))
    add(_ratio(f"growth.drain.r{plan.rows}.ratio", "  … stored / empty", kind,
               grown_drain.value, empty_drain.value, True))
    for q in (50, 99):
        empty_ms = percentile(empty_metrics, q) * 1000
        grown_ms = percentile(grown_metrics, q) * 1000
        # The CPU (and so the disturbance flag) on the p50 rows only: one flag per store.
        add(Measurement(
            key=f"growth.metrics.empty.p{q}", label=f"growth: GET /metrics p{q}, empty store",
            store=kind, value=empty_ms, unit="ms", higher_is_better=False,
            details={"requests": len(empty_metrics),
                     "max_ms": round(max(empty_metrics) * 1000, 3),
                     **({"cpu_seconds": empty_info["metrics_cpu_seconds"]} if q == 50 else {})}))
        add(Measurement(
            key=f"growth.metrics.r{plan.rows}.p{q}", label=f"growth: GET /metrics p{q}, {stored}",
            store=kind, value=grown_ms, unit="ms", higher_is_better=False,
            details={"requests": len(grown_metrics),
                     "max_ms": round(max(grown_metrics) * 1000, 3),
                     **({"cpu_seconds": grown_info["metrics_cpu_seconds"]} if q == 50 else {})}))
        add(_ratio(f"growth.metrics.r{plan.rows}.p{q}.ratio", "  … stored / empty", kind,
                   grown_ms, empty_ms, False))
    for m in await _memory(kind, plan, databases, log_level, logs, tag, tweaks):
        add(m)
