"""`python -m bench.run`: conveyor's benchmarks, printed as a table and saved as JSON.

Each run does, per store: the enqueue paths, the drain cases, the pickup latency and the
HTTP load (then the same load against the bare FastAPI reference, and with `--peers` the
peers' cases); runs are interleaved (run 1 of everything, then run 2…) so a disturbance
spreads over cases rather than sinking one, and the table shows the median of runs with
their range. The growth cases (`--only growth`) are not in the default run: they take tens
of minutes at their full sizes. Every case is bounded in job count and time; all traffic
goes to 127.0.0.1.
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
    machine_info,
    postgres_available,
    wait_for_quiet,
)
from bench.fairness import FairnessCase, run_fairness
from bench.growth import GrowthPlan, run_growth
from bench.httpload import (
    BARE,
    HttpLoad,
    choose_client,
    ratio_measurements,
    run_bare_load,
    run_conveyor_load,
)
from bench.latency import run_latency
from bench.processes import WorkerTweaks
from bench.results import Collector

PARTS = ("enqueue", "drain", "latency", "http", "fairness")
"""What a run does by default."""
EXTRA_PARTS = ("growth",)
"""Parts only `--only` asks for."""
PEER_PARTS = ("enqueue", "drain", "latency")
"""The parts the peers have a version of."""


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
                        help=f"comma-separated parts to run, of {', '.join(PARTS + EXTRA_PARTS)}"
                             " (default: all but growth), and peers (the peers alone)")
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
                        help="also run the enqueue, drain and latency cases for PgQueuer (same "
                             "PostgreSQL) and huey (Redis at 127.0.0.1:6379), and the enqueue "
                             "cases for procrastinate; installs them into this venv if missing")
    parser.add_argument("--http-seconds", type=float, default=None,
                        help="duration of each HTTP load (default 15, quick 5)")
    parser.add_argument("--http-connections", type=int, default=64,
                        help="keep-alive connections of the HTTP load (default 64)")
    parser.add_argument("--http-client", choices=("auto", "wrk", "python"), default="auto",
                        help="HTTP load generator: wrk, the bench's own client, or wrk when "
                             "installed (default)")
    parser.add_argument("--growth-rows", type=int, default=None,
                        help="done jobs stored for the growth cases (default 1,000,000; "
                             "quick 50,000)")
    parser.add_argument("--growth-drain-jobs", type=int, default=None,
                        help="jobs of the growth part's memory drain (default 1,000,000; "
                             "quick 30,000)")
    parser.add_argument("--wait-idle", type=float, default=60.0,
                        help="before each store's run, wait up to this many seconds for the "
                             "machine to be idle (default 60; 0: do not wait)")
    parser.add_argument("--worker-asyncio", action="store_true",
                        help="experiment: run the workers on asyncio's own event loop "
                             "(EVENT_LOOP=asyncio) instead of uvloop")
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
    # The peers run the parts asked for that they have; `--only peers` alone: all of them,
    # and nothing of conveyor's.
    args.peer_parts = [part for part in args.only if part in PEER_PARTS]
    if "peers" in args.only:
        args.peers = True
        args.only.remove("peers")
        if not args.only:
            args.peer_parts = list(PEER_PARTS)
    unknown = set(args.only) - set(PARTS + EXTRA_PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.processes = [int(p) for p in args.processes.split(",")]
    args.http_seconds = args.http_seconds or (5.0 if args.quick else 15.0)
    args.growth_rows = args.growth_rows or (50_000 if args.quick else 1_000_000)
    args.growth_drain_jobs = args.growth_drain_jobs or (30_000 if args.quick else 1_000_000)
    return args


def sizes(quick: bool, concurrency: int, processes: list[int]) -> dict[str, Any]:
    """Counts and time bounds of every case. Chosen so a full run (3 runs, both stores) of
    the enqueue, drain and latency parts stays under ~10 minutes and a quick one under 2 on
    a 2-core machine; the HTTP load adds 3 x `--http-seconds` per run, peers and growth
    more."""
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
        "noop_jobs": noop_jobs,
        "fairness": FairnessCase(backlog=20_000 if quick else 100_000,
                                 seconds=8 if quick else 20, concurrency=concurrency),
    }


async def run_store(
    kind: str, args: argparse.Namespace, plan: dict[str, Any], collector: Collector,
    logs: Path, run: int,
) -> None:
    """Run `run` of conveyor's parts on one store."""
    databases = Databases(kind, args.postgres_url)
    tag = f"{kind}-r{run}"
    tweaks = WorkerTweaks(asyncio=args.worker_asyncio,
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

    async def http() -> None:
        for m in await run_conveyor_load(kind, databases.new, databases.drop, plan["http"],
                                         args.log_level, logs, tag, run):
            collector.add(m)

    async def fairness() -> None:
        for m in await run_fairness(kind, plan["fairness"], databases.new, databases.drop,
                                    args.log_level, logs, f"{tag}-fairness", tweaks):
            collector.add(m)

    async def growth() -> None:
        await run_growth(kind, plan["growth"], databases, collector.add, args.log_level,
                         logs, f"{tag}-growth", tweaks)

    try:
        if "enqueue" in args.only:
            await attempt("enqueue", enqueue)
        if "drain" in args.only:
            for case in plan["drain"]:
                await attempt(case.label, functools.partial(drain, case))
        if "latency" in args.only:
            await attempt("pickup latency", latency)
        if "http" in args.only:
            await attempt("HTTP load", http)
        if "fairness" in args.only:
            await attempt("fair dispatch", fairness)
        if "growth" in args.only:
            await attempt("growth", growth)
    finally:
        databases.close()


async def run_bare(
    args: argparse.Namespace, plan: dict[str, Any], collector: Collector, logs: Path, run: int
) -> None:
    """The HTTP load against the bare FastAPI reference, then conveyor's share of it."""
    print(f"run {run}/{args.runs}, bare FastAPI reference:", flush=True)
    try:
        for m in await run_bare_load(plan["http"], logs, f"bare-r{run}", run):
            collector.add(m)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"  {BARE} HTTP load: FAILED ({type(exc).__name__}: {first})", flush=True)
        collector.notes.append(f"{BARE} HTTP load, run {run}: failed: {first}")
        return
    for m in ratio_measurements(collector.measurements, run):
        collector.add(m)


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
    plan["http"] = None
    if "http" in args.only:
        client, client_note = choose_client(args.http_client)
        plan["http"] = HttpLoad(seconds=args.http_seconds, connections=args.http_connections,
                                client=client)
        if client_note is not None:
            print(f"note: {client_note}", flush=True)
    plan["growth"] = GrowthPlan(
        rows=args.growth_rows, drain_jobs=plan["noop_jobs"],
        metrics_requests=200, memory_jobs=args.growth_drain_jobs, concurrency=args.concurrency)
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
            if "http" in args.only:  # the reference, in the same run as conveyor's figures
                await run_bare(args, plan, collector, logs, run)
            if args.peers and args.peer_parts:  # in the same run: the same machine
                from bench.peers import run_peers

                wait_for_quiet(args.wait_idle)
                await run_peers(args, plan, collector, logs, stores, run, args.peer_parts)
    elapsed = time.monotonic() - started
    table_stores = stores + [BARE] + (["pgqueuer", "procrastinate", "huey"] if args.peers else [])
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
            "worker_asyncio": args.worker_asyncio,
            "worker_postgres_options": args.worker_postgres_options,
            "parts": args.only, "peers": args.peers, "peer_parts": args.peer_parts,
            "plan": {"enqueue": asdict(plan["enqueue"]),
                     "drain": [asdict(case) for case in plan["drain"]],
                     "latency_samples": plan["latency_samples"],
                     "http": asdict(plan["http"]) if plan["http"] else None,
                     "growth": asdict(plan["growth"]) if "growth" in args.only else None},
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
