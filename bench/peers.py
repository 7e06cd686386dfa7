"""Optional peer comparison (`--peers`): the same no-op drain with PgQueuer and huey.

- PgQueuer on the same PostgreSQL server (a fresh database per case, asyncpg driver, uvloop
  as its own CLI runs it), `max_concurrent_tasks` = the slots, batches of half of that
  (PgQueuer requires the cap to be at least twice the batch);
- huey on Redis at 127.0.0.1:6379 (`RedisHuey`, thread workers = the slots, results not
  stored), under a queue name of its own that is flushed afterwards.

Each consumer is a separate process, like a `conveyor worker`; it records the time each
handler ran and the figure is computed as for conveyor (completions per second between the
10th and the 90th percentile). The packages are installed into this virtualenv the first
time `--peers` is given and never otherwise: `make test` does not depend on them.

`consumer_main()` with `pgqueuer|huey TARGET SLOTS OUTFILE` is one consumer process.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.drain import DrainCase, rates
from bench.environment import REPO, Databases, cpu_between, cpu_snapshot
from bench.results import Collector, Measurement

PACKAGES = {"pgqueuer": ["pgqueuer", "asyncpg"], "huey": ["huey", "redis"]}
"""Module to check → what pip installs when it is missing."""

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
FILL_BATCH = 1000


def ensure_installed(peer: str) -> None:
    modules = PACKAGES[peer]
    if all(importlib.util.find_spec(module) for module in modules):
        return
    print(f"installing {' '.join(modules)} into this virtualenv for --peers", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *modules], check=True)
    importlib.invalidate_caches()


# -- consumers (child processes) ------------------------------------------------------------------


async def _pgqueuer_consume(url: str, slots: int) -> list[float]:
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    times: list[float] = []
    connection = await asyncpg.connect(url)
    manager = QueueManager(Queries(AsyncpgDriver(connection)))

    @manager.entrypoint("bench_noop")
    async def bench_noop(job: Any) -> None:
        times.append(time.time())

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, manager.shutdown.set)
    await manager.run(batch_size=max(1, slots // 2), max_concurrent_tasks=slots,
                      mode=QueueExecutionMode.drain)
    return times


def _huey(name: str) -> Any:
    from huey import RedisHuey

    return RedisHuey(name, host=REDIS_HOST, port=REDIS_PORT, results=False)


def _huey_consume(name: str, slots: int, out: Path) -> None:
    from huey.signals import SIGNAL_COMPLETE

    huey = _huey(name)
    times: list[float] = []

    @huey.task(name="bench_noop")
    def bench_noop(n: int) -> None:
        pass

    @huey.signal(SIGNAL_COMPLETE)
    def completed(signal_name: str, task: Any, *args: Any) -> None:
        times.append(time.time())

    consumer = huey.create_consumer(workers=slots, worker_type="thread", periodic=False,
                                    initial_delay=0.001, max_delay=0.05,
                                    check_worker_health=False)
    consumer.run()  # until SIGTERM
    out.write_text(json.dumps(times))


def consumer_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("peer", choices=sorted(PACKAGES))
    parser.add_argument("target", help="PostgreSQL URL (pgqueuer) or queue name (huey)")
    parser.add_argument("slots", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.peer == "pgqueuer":
        import uvloop

        times = uvloop.run(_pgqueuer_consume(args.target, args.slots))
        args.out.write_text(json.dumps(times))
    else:
        _huey_consume(args.target, args.slots, args.out)


# -- the benchmark (parent) ------------------------------------------------------------------------


def _start(peer: str, target: str, slots: int, out: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as sink:
        return subprocess.Popen(
            # Imported, not run as __main__: huey names tasks by module, and the consumer's
            # must match the producer's (`bench.peers.bench_noop`).
            [sys.executable, "-c", "from bench.peers import consumer_main; consumer_main()",
             peer, target, str(slots), str(out)],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def _stop(processes: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _until(done: Callable[[], bool], timeout: float) -> None:
    """Poll `done` every 0.1 s for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if done() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


def _collect(outs: list[Path]) -> list[tuple[float, float]]:
    times: list[float] = []
    for out in outs:
        if out.exists():
            times += json.loads(out.read_text())
    return [(t, t) for t in times]


async def _pgqueuer_case(case: DrainCase, databases: Databases, logs: Path) -> Measurement:
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries

    url = databases.new()
    try:
        connection = await asyncpg.connect(url)
        queries = Queries(AsyncpgDriver(connection))
        await queries.install()
        started_fill = time.monotonic()
        for first in range(0, case.jobs, FILL_BATCH):
            count = min(FILL_BATCH, case.jobs - first)
            await queries.enqueue(["bench_noop"] * count, [None] * count, [0] * count)
        fill_sec = time.monotonic() - started_fill
        await connection.close()
        outs = [logs / f"pgqueuer-{case.key}-{i}.json" for i in range(case.processes)]
        processes = [_start("pgqueuer", url, case.concurrency, out,
                            logs / f"pgqueuer-{i}.log") for i, out in enumerate(outs)]
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

        await _until(exited, case.timeout)
        cpu = cpu_between(before, last)
        _stop(processes)
        return _measurement("pgqueuer", case, _collect(outs), fill_sec, cpu)
    finally:
        databases.drop(url)


async def _huey_case(case: DrainCase, logs: Path) -> Measurement:
    name = f"conveyor-bench-{os.getpid()}-{case.key}"
    huey = _huey(name)

    @huey.task(name="bench_noop")
    def bench_noop(n: int) -> None:
        pass

    started_fill = time.monotonic()
    for n in range(case.jobs):
        bench_noop(n)
    fill_sec = time.monotonic() - started_fill
    outs = [logs / f"huey-{case.key}-{i}.json" for i in range(case.processes)]
    processes = [_start("huey", name, case.concurrency, out, logs / f"huey-{i}.log")
                 for i, out in enumerate(outs)]
    try:
        before = cpu_snapshot([p.pid for p in processes])
        await _until(lambda: huey.pending_count() == 0, case.timeout)
        await asyncio.sleep(0.3)  # the last dequeued tasks finish
        cpu = cpu_between(before, cpu_snapshot([p.pid for p in processes]))
    finally:
        _stop(processes)
        huey.flush()
    return _measurement("huey", case, _collect(outs), fill_sec, cpu)


def _measurement(
    peer: str, case: DrainCase, times: list[tuple[float, float]], fill_sec: float,
    cpu: dict[str, float],
) -> Measurement:
    measured = rates(times)
    return Measurement(
        key=case.key, label=case.label, store=peer, value=measured["steady_rate"],
        unit="jobs/s",
        details={"jobs": case.jobs, "done": len(times), "fill_sec": round(fill_sec, 3),
                 **{k: round(v, 1) if k.endswith("rate") else v for k, v in measured.items()},
                 "cpu_seconds": cpu},
    )


async def run_peers(
    args: argparse.Namespace, plan: dict[str, Any], collector: Collector, logs: Path,
    stores: list[str], run: int,
) -> None:
    """Run `run` of the peers' no-op drains (the same cases as conveyor's)."""
    cases = [case for case in plan["drain"] if case.task == "bench_noop"]
    if "postgres" in stores:
        ensure_installed("pgqueuer")
        print(f"run {run}/{args.runs}, pgqueuer (PostgreSQL):", flush=True)
        databases = Databases("postgres", args.postgres_url)
        try:
            for case in cases:
                collector.add(await _pgqueuer_case(case, databases, logs))
        finally:
            databases.close()
    ensure_installed("huey")
    print(f"run {run}/{args.runs}, huey (Redis at {REDIS_HOST}:{REDIS_PORT}):", flush=True)
    for case in cases:
        collector.add(await _huey_case(case, logs))

