"""Retention under load (`make bench-retention`): what pruning a big history costs a drain.

Per store, one database holds `--rows` done jobs (default 1,000,000, with their three events
each, written by `bench.prefill`) that finished two days ago. Then, on that same database:

- (a) baseline: one `conveyor worker` (x `--concurrency` slots) drains `--drain-jobs` no-op
  jobs (default 60,000) with retention off;
- (b) pruning: the same drain with `RETENTION_DONE_DAYS=1`, so the worker's retention side
  task deletes the whole history in batches while it drains (the real thing: the pruner runs
  in the draining worker, at its default batch size and pause unless given);
- the worker then goes on until the history is gone, and the time that took is reported.

The rates are the drain's steady rate (`bench.drain.rates`, from the jobs' own timestamps);
the row that matters is (b) / (a), with how much of the history was pruned during the (b)
window (a window with pruning only in part of it would flatter the ratio). `--quick`: 20,000
stored jobs and a 5,000-job drain; the test suite runs a smaller one (`tests/bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.drain import fill, job_times, rates
from bench.environment import Databases, postgres_available
from bench.prefill import HISTORY_TASK, fill_jobs
from bench.processes import Process, conveyor_env, stop_all
from conveyor.lifecycle import JobStatus
from conveyor.store import connect_store
from conveyor.store.base import Store

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TWO_DAYS_SEC = 2 * 86_400.0


@dataclass(frozen=True)
class RetentionPlan:
    rows: int
    drain_jobs: int
    concurrency: int = 10
    batch_size: int | None = None  # RETENTION_BATCH_SIZE (None: the default)
    timeout: float = 3600.0


def _worker(url: str, plan: RetentionPlan, logs: Path, tag: str, retention: bool) -> Process:
    env = conveyor_env(url, "warning")
    for name in [n for n in env if n.startswith("RETENTION_")]:
        del env[name]
    if retention:
        env |= {"RETENTION_DONE_DAYS": "1", "RETENTION_INTERVAL_SEC": "1"}
        if plan.batch_size:
            env["RETENTION_BATCH_SIZE"] = str(plan.batch_size)
    return Process(["worker", "--concurrency", str(plan.concurrency), "--import", "bench.tasks"],
                   env, logs / f"{tag}-worker.log")


async def _pruned(store: Store) -> int:
    return (await store.counts()).pruned.get(JobStatus.DONE, 0)


async def _drain(kind: str, url: str, store: Store, plan: RetentionPlan, logs: Path, tag: str,
                 retention: bool) -> tuple[dict[str, Any], Process]:
    """Fill `drain_jobs` jobs of `tag`, start a worker and wait until they are done; the
    worker is returned still running."""
    task = "bench_noop"
    await fill(url, task, plan.drain_jobs)
    base = await store.counts()
    pruned_before = await _pruned(store)
    since = time.time()  # every earlier drain's jobs finished before this
    worker = _worker(url, plan, logs, tag, retention)
    started = time.monotonic()
    while True:
        await asyncio.sleep(0.25)
        counts = await store.counts()
        if counts.done - base.done >= plan.drain_jobs:
            break
        if not worker.alive():
            raise RuntimeError(f"the worker exited during the drain:\n{worker.tail()}")
        if time.monotonic() - started > plan.timeout:
            raise RuntimeError("the drain timed out")
    pruned_during = await _pruned(store) - pruned_before
    times = [t for t in job_times(kind, url, task) if t[1] >= since]
    return {**rates(times), "jobs": len(times), "pruned_during": pruned_during,
            "wall_sec": round(time.monotonic() - started, 2)}, worker


async def run_store(kind: str, plan: RetentionPlan, databases: Databases,
                    logs: Path) -> dict[str, Any]:
    url = databases.new()
    try:
        opened = await connect_store(url)
        await opened.close()
        fill_sec = await asyncio.to_thread(fill_jobs, kind, url, plan.rows, "done",
                                           HISTORY_TASK, TWO_DAYS_SEC)
        print(f"  {kind:8} retention: {plan.rows:,} done jobs (two days old) written in "
              f"{fill_sec:.1f} s", flush=True)
        store = await connect_store(url)
        try:
            baseline, worker = await _drain(kind, url, store, plan, logs, f"{kind}-off", False)
            stop_all([worker])
            print(f"  {kind:8} retention: drain without pruning "
                  f"{baseline['steady_rate']:,.0f} jobs/s", flush=True)
            pruning, worker = await _drain(kind, url, store, plan, logs, f"{kind}-on", True)
            print(f"  {kind:8} retention: drain while pruning {pruning['steady_rate']:,.0f}"
                  f" jobs/s ({pruning['pruned_during']:,} pruned meanwhile)", flush=True)
            try:
                began = time.monotonic()
                while await _pruned(store) < plan.rows:
                    if not worker.alive():
                        raise RuntimeError(f"the worker exited:\n{worker.tail()}")
                    if time.monotonic() - began > plan.timeout:
                        raise RuntimeError("pruning timed out")
                    await asyncio.sleep(0.5)
                rest_sec = time.monotonic() - began
            finally:
                stop_all([worker])
            counts = await store.counts()
        finally:
            await store.close()
    finally:
        databases.drop(url)
    prune_sec = pruning["wall_sec"] + rest_sec
    return {
        "store": kind, "rows": plan.rows, "drain_jobs": plan.drain_jobs,
        "concurrency": plan.concurrency, "batch_size": plan.batch_size,
        "fill_sec": round(fill_sec, 1),
        "drain_without_pruning": baseline, "drain_while_pruning": pruning,
        "ratio": round(pruning["steady_rate"] / baseline["steady_rate"], 3),
        "pruned_share_during_drain": round(pruning["pruned_during"] / plan.rows, 3),
        "prune_sec_about": round(prune_sec, 1),
        "prune_rate_about": round(plan.rows / prune_sec, 1) if prune_sec else None,
        "counters_after": {"done": counts.done, "jobs_submitted": counts.jobs_submitted,
                           "pruned_done": counts.pruned.get(JobStatus.DONE, 0)},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retention",
                                     description="What pruning a big history costs a drain.")
    parser.add_argument("--store", choices=("sqlite", "postgres", "all"), default="postgres")
    parser.add_argument("--quick", action="store_true", help="20,000 stored, 5,000 drained")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--drain-jobs", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="RETENTION_BATCH_SIZE of the pruning worker (default: its own)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CONVEYOR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.drain_jobs = args.drain_jobs or (5_000 if args.quick else 60_000)
    return args


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    kinds = ["sqlite", "postgres"] if args.store == "all" else [args.store]
    plan = RetentionPlan(args.rows, args.drain_jobs, args.concurrency, args.batch_size)
    results = []
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-retention-") as logs:
        for kind in kinds:
            if kind == "postgres":
                why = postgres_available(args.postgres_url)
                if why:
                    print(f"  postgres skipped: {why}", flush=True)
                    continue
            databases = Databases(kind, args.postgres_url)
            try:
                results.append(await run_store(kind, plan, databases, Path(logs)))
            finally:
                with contextlib.suppress(Exception):
                    databases.close()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(main_async(args))
    for result in results:
        print(f"{result['store']}: drain {result['drain_without_pruning']['steady_rate']:,.0f}"
              f" → {result['drain_while_pruning']['steady_rate']:,.0f} jobs/s while pruning"
              f" (x{result['ratio']}; {result['pruned_share_during_drain']:.0%} of"
              f" {result['rows']:,} pruned meanwhile); all pruned in about"
              f" {result['prune_sec_about']:,.0f} s")
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
