"""`python -m bench.run`: conveyor's benchmarks, printed as a table and saved as JSON.

Each run does, per store: the enqueue paths, the drain cases, and the pickup latency; runs
are interleaved (run 1 of everything, then run 2…) so a disturbance spreads over cases rather
than sinking one, and the table shows the median of runs with their range. Every case is
bounded in job count and time; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.drain import DrainCase, ceiling_measurement, run_drain
from bench.enqueue import EnqueueBudget, run_enqueue
from bench.environment import (
    DEFAULT_POSTGRES_URL,
    Databases,
    ensure_local,
    machine_busy,
    machine_info,
    postgres_available,
)
from bench.latency import run_latency
from bench.processes import WorkerTweaks
from bench.results import Collector

PARTS = ("enqueue", "drain", "latency")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="conveyor's throughput and latency benchmarks."
    )
    parser.add_argument("--store", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts and one run: under two minutes")
    parser.add_argument("--runs", type=int, default=None,
                        help="repetitions; the table shows their median (default 3, quick 1)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run, of {', '.join(PARTS)} (and peers)")
    parser.add_argument("--processes", default="1,2",
                        help="worker process counts for the drains (default 1,2)")
    parser.add_argument("--drain-tasks", default="noop,sleep10",
                        help="which drains to run: noop, sleep10 or both (default)")
    parser.add_argument("--concurrency", type=int, default=10,
                        help="slots per worker process, and requests in flight (default 10)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CONVEYOR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server on which a fresh database is created per case and dropped after")
    parser.add_argument("--log-level", default="warning",
                        help="LOG_LEVEL of the conveyor processes (default warning)")
    parser.add_argument("--peers", action="store_true",
                        help="also drain PgQueuer (same PostgreSQL) and huey (Redis at "
                             "127.0.0.1:6379); installs them into this venv if missing")
    parser.add_argument("--wait-idle", type=float, default=60.0,
                        help="before each store's run, wait up to this many seconds for the "
                             "machine to be idle (default 60; 0: do not wait)")
    parser.add_argument("--worker-uvloop", action="store_true",
                        help="experiment: run the workers on uvloop")
    parser.add_argument("--worker-postgres-options", default="",
                        help="experiment: libpq options for the workers, given as "
                             "--worker-postgres-options='-c synchronous_commit=off'")
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep the processes' logs in this directory (default: a "
                             "temporary one, removed at the end)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    if "peers" in args.only:  # `--only peers`: just the peer comparison
        args.peers = True
        args.only.remove("peers")
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.processes = [int(p) for p in args.processes.split(",")]
    return args


def sizes(quick: bool, concurrency: int, processes: list[int]) -> dict[str, Any]:
    """Counts and time bounds of every case. Chosen so a full run (3 runs, both stores)
    stays under ~10 minutes and a quick one under 2 on a 2-core machine."""
    noop_jobs = 6_000 if quick else 15_000
    sleep_jobs = 1_500 if quick else 3_000
    cases = [
        DrainCase("bench_noop", p, concurrency, noop_jobs, timeout=60)
        for p in processes
    ] + [
        DrainCase("bench_sleep10", p, concurrency, sleep_jobs * p, timeout=60)
        for p in processes
    ]
    return {
        "enqueue": EnqueueBudget(seconds=1.0 if quick else 2.5,
                                 max_jobs=50_000 if quick else 200_000,
                                 concurrency=concurrency),
        "drain": cases,
        "latency_samples": 40 if quick else 120,
    }


async def run_store(
    kind: str, args: argparse.Namespace, plan: dict[str, Any], collector: Collector,
    logs: Path, run: int,
) -> None:
    databases = Databases(kind, args.postgres_url)
    tag = f"{kind}-r{run}"
    tweaks = WorkerTweaks(uvloop=args.worker_uvloop,
                          postgres_options=args.worker_postgres_options)

    async def attempt(what: str, body: Callable[[], Awaitable[None]]) -> None:
        """One case; a failure (say, the server restarted under us) is reported and the
        run goes on with the next case."""
        try:
            await body()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"  {kind:8} {what}: FAILED ({type(exc).__name__}: {first})", flush=True)
            collector.notes.append(f"{kind} {what}, run {run}: failed: {first}")

    async def enqueue() -> None:
        for m in await run_enqueue(kind, databases.new, databases.drop, plan["enqueue"],
                                   args.log_level, logs, tag):
            collector.add(m)

    async def drain(case: DrainCase) -> None:
        m = await run_drain(kind, case, databases.new, databases.drop, args.log_level,
                            logs, f"{tag}-{case.key}", tweaks)
        collector.add(m)
        if m.details.get("timed_out"):
            collector.notes.append(f"{kind} {case.label}: timed out (run {run})")
        if case.ceiling:
            collector.add(ceiling_measurement(m, case))

    async def latency() -> None:
        for m in await run_latency(kind, plan["latency_samples"], args.concurrency,
                                   databases.new, databases.drop, args.log_level, logs,
                                   tag, tweaks):
            collector.add(m)

    try:
        if "enqueue" in args.only:
            await attempt("enqueue", enqueue)
        if "drain" in args.only:
            for case in plan["drain"]:
                await attempt(case.label, functools.partial(drain, case))
        if "latency" in args.only:
            await attempt("pickup latency", latency)
    finally:
        databases.close()


def wait_for_quiet(max_wait: float) -> float:
    """Wait (up to `max_wait` s) until the machine is under 15 % busy; return the last
    reading. Other people's test runs on a 2-core machine halve a throughput figure."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy(0.5)
    warned = False
    while busy > 0.15 and time.monotonic() < deadline:
        if not warned:
            print(f"machine {busy:.0%} busy: waiting up to {max_wait:.0f} s for it to quiet "
                  "down", flush=True)
            warned = True
        busy = machine_busy(2.0)
    return busy


async def main_async(args: argparse.Namespace) -> int:
    stores = ["sqlite", "postgres"] if args.store == "all" else [args.store]
    if "postgres" in stores:
        ensure_local(args.postgres_url)
        why = postgres_available(args.postgres_url)
        if why is not None:
            if args.store == "postgres":
                print(f"PostgreSQL not reachable: {why}", file=sys.stderr)
                return 2
            print(f"skipping PostgreSQL (not reachable: {why})", file=sys.stderr)
            stores.remove("postgres")
    plan = sizes(args.quick, args.concurrency, args.processes)
    wanted = {f"bench_{name.strip()}" for name in args.drain_tasks.split(",")}
    plan["drain"] = [case for case in plan["drain"] if case.task in wanted]
    machine = machine_info(args.postgres_url if "postgres" in stores else None)
    print(f"conveyor bench: {machine['cpu']}, {machine['cores']} cores, Python "
          f"{machine['python']}, PostgreSQL {machine.get('postgres', '-')}, SQLite "
          f"{machine['sqlite']}; load average {os.getloadavg()[0]:.2f}; "
          f"{args.runs} run(s){' (quick)' if args.quick else ''}", flush=True)
    collector = Collector()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-logs-") as logs_dir:
        logs = Path(logs_dir) if args.logs is None else args.logs
        logs.mkdir(parents=True, exist_ok=True)
        for run in range(1, args.runs + 1):
            for kind in stores:
                busy = wait_for_quiet(args.wait_idle)
                print(f"run {run}/{args.runs}, {kind} (machine {busy:.0%} busy before):",
                      flush=True)
                await run_store(kind, args, plan, collector, logs, run)
            if args.peers:  # in the same run, so the comparison sees the same machine
                from bench.peers import run_peers

                wait_for_quiet(args.wait_idle)
                await run_peers(args, plan, collector, logs, stores, run)
    elapsed = time.monotonic() - started
    table_stores = stores + (["pgqueuer", "huey"] if args.peers else [])
    print()
    print(collector.table([s for s in table_stores
                           if any(m.store == s for m in collector.measurements)]))
    for note in collector.notes:
        print(f"note: {note}")
    print(f"\n{elapsed:.0f} s in all; median of {args.runs} run(s) (min-max)")
    if not args.no_json:
        config = {
            "argv": sys.argv[1:], "stores": stores, "runs": args.runs, "quick": args.quick,
            "concurrency": args.concurrency, "processes": args.processes,
            "log_level": args.log_level, "elapsed_sec": round(elapsed, 1),
            "worker_uvloop": args.worker_uvloop,
            "worker_postgres_options": args.worker_postgres_options,
            "plan": {"enqueue": asdict(plan["enqueue"]),
                     "drain": [asdict(case) for case in plan["drain"]],
                     "latency_samples": plan["latency_samples"]},
        }
        path = collector.write_json(config, machine)
        print(f"JSON: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # SIGTERM as Ctrl-C: the `finally` blocks stop the workers and drop the databases.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return asyncio.run(main_async(parse_args(argv)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
