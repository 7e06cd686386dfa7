"""Optional peer comparison (`--peers`): PgQueuer and huey, measured like conveyor (and
procrastinate's enqueue).

The peers run the same cases with the same slot counts as conveyor in each of them (the
`--processes` x `--concurrency` drain cases, `concurrency` enqueue calls in flight, one idle
consumer with `concurrency` slots for latency), and their figures land in the same rows of
the same table, a column per peer:

- PgQueuer (`bench.peer_pgqueuer`) on the same PostgreSQL server, a fresh database per case,
  asyncpg;
- huey (`bench.peer_huey`) on Redis at 127.0.0.1:6379 (`RedisHuey`, thread workers), under a
  queue name of its own that is flushed afterwards.

Each consumer is a separate process, like a `conveyor worker`, started by `consumer_main()`;
its handlers record when they started and finished, and a drain's rate is computed from those
as for conveyor (completions per second between the 10th and the 90th percentile). For pickup
latency the handler sends its start time (`time.time()`, the clock conveyor's `bench_stamp`
reads) to the bench in a UDP datagram on 127.0.0.1. The packages are installed into this
virtualenv the first time `--peers` is given and never otherwise: `make test` does not depend
on them, and this module imports them only through `optional()`, so it type-checks without
them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import importlib
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.drain import DrainCase, ceiling_measurement, rates
from bench.environment import REPO
from bench.latency import WARMUP, pickup_measurements
from bench.results import Collector, Measurement

PACKAGES = {"pgqueuer": ["pgqueuer", "asyncpg"], "huey": ["huey", "redis"],
            "procrastinate": ["procrastinate"]}
"""Peer → the modules it needs, which are also what pip installs when one is missing."""

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
FILL_BATCH = 1000
SLEEP_SEC = 0.01
TASKS = ("bench_noop", "bench_sleep10", "bench_stamp")
"""The peers' versions of `bench.tasks`: nothing, 10 ms of sleep, send the start time."""


def ensure_installed(peer: str) -> None:
    modules = PACKAGES[peer]
    if all(importlib.util.find_spec(module) for module in modules):
        return
    print(f"installing {' '.join(modules)} into this virtualenv for --peers", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *modules], check=True)
    importlib.invalidate_caches()


def optional(module: str) -> Any:
    """A peer's module, imported when first needed (they are not the project's dependencies,
    so neither the import nor mypy may require them)."""
    return importlib.import_module(module)


# -- inside a consumer process ---------------------------------------------------------------


class Stamper:
    """Sends "n start-time" datagrams to the bench (pickup latency)."""

    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, n: int, started: float) -> None:
        self.sock.sendto(f"{n} {started!r}".encode(), self.address)


def consumer_main(argv: list[str] | None = None) -> None:
    """One consumer process: `peer target task slots out [--continuous] [--stamp-port N]`.
    It runs until its queue is empty (drain), or until SIGTERM with `--continuous`, then
    writes its handlers' (start, finish) times to `out` as JSON."""
    parser = argparse.ArgumentParser(prog="bench.peers consumer")
    parser.add_argument("peer", choices=sorted(PACKAGES))
    parser.add_argument("target", help="PostgreSQL URL (pgqueuer) or queue name (huey)")
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("slots", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--continuous", action="store_true")
    parser.add_argument("--stamp-port", type=int, default=0)
    args = parser.parse_args(argv)
    stamper = Stamper(args.stamp_port) if args.stamp_port else None
    if args.peer == "pgqueuer":
        from bench import peer_pgqueuer

        times = peer_pgqueuer.consume(args.target, args.task, args.slots, args.continuous,
                                      stamper)
    else:
        from bench import peer_huey

        times = peer_huey.consume(args.target, args.task, args.slots, stamper)
    args.out.write_text(json.dumps(times))


# -- in the bench ----------------------------------------------------------------------------


def start_consumer(
    peer: str, target: str, task: str, slots: int, out: Path, log: Path,
    continuous: bool = False, stamp_port: int = 0,
) -> subprocess.Popen[bytes]:
    extra = (["--continuous"] if continuous else []) + (
        ["--stamp-port", str(stamp_port)] if stamp_port else [])
    with open(log, "ab") as sink:
        return subprocess.Popen(
            # Imported, not run as __main__: huey names tasks by module, and the consumer's
            # must match the producer's (`bench.peer_huey.…`).
            [sys.executable, "-c", "from bench.peers import consumer_main; consumer_main()",
             peer, target, task, str(slots), str(out), *extra],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def until(done: Callable[[], bool], timeout: float) -> None:
    """Poll `done` every 0.1 s for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if done() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


def collect(outs: list[Path]) -> list[tuple[float, float]]:
    """The (start, finish) times every consumer wrote."""
    times: list[tuple[float, float]] = []
    for out in outs:
        if out.exists():
            times += [(float(a), float(b)) for a, b in json.loads(out.read_text())]
    return times


def drain_measurements(
    peer: str, case: DrainCase, times: list[tuple[float, float]], fill_sec: float,
    cpu: dict[str, float],
) -> list[Measurement]:
    """The drain's row, and for 10 ms jobs its share of the slot ceiling."""
    measured = rates(times)
    details: dict[str, Any] = {
        "jobs": case.jobs, "done": len(times), "fill_sec": round(fill_sec, 3),
        **{k: round(v, 1) if k.endswith("rate") else v for k, v in measured.items()},
        "cpu_seconds": cpu,
    }
    if times:
        details["cpu_ms_per_job"] = {
            part: round(seconds * 1000 / len(times), 4)
            for part, seconds in cpu.items() if not part.endswith("fraction")
        }
    m = Measurement(key=case.key, label=case.label, store=peer, value=measured["steady_rate"],
                    unit="jobs/s", details=details)
    if case.ceiling:
        details["ceiling"] = case.ceiling
        details["ceiling_fraction"] = round(m.value / case.ceiling, 4)
        return [m, ceiling_measurement(m, case)]
    return [m]


class Stamps(asyncio.DatagramProtocol):
    """Receives the consumers' "n start-time" datagrams."""

    def __init__(self) -> None:
        self.received: dict[int, float] = {}
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        n, _, started = data.decode().partition(" ")
        self.received[int(n)] = float(started)
        self.arrived.set()

    async def wait(self, n: int, timeout: float) -> float:
        async with asyncio.timeout(timeout):
            while n not in self.received:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received[n]


async def open_stamps() -> tuple[Stamps, asyncio.DatagramTransport, int]:
    """A UDP endpoint on 127.0.0.1 and its port."""
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Stamps, local_addr=("127.0.0.1", 0))
    return protocol, transport, int(transport.get_extra_info("sockname")[1])


async def pickup_latency(
    peer: str, samples: int, stamps: Stamps, enqueue: Callable[[int], Awaitable[Any]],
    wait_done: Callable[[Any], Awaitable[None]],
) -> list[Measurement]:
    """`bench.latency`'s method for a peer: one job at a time; wait for it to finish, then a
    random 20-50 ms pause; from the moment the enqueue call returned to the handler's start.
    The first `WARMUP` jobs are not counted (the first one also waits for the consumer to
    come up)."""
    rng = random.Random(1)
    to_handler: list[float] = []
    submit_ms: list[float] = []
    for index in range(WARMUP + samples):
        await asyncio.sleep(rng.uniform(0.02, 0.05))
        before = time.time()
        handle = await enqueue(index)
        committed = time.time()
        started = await stamps.wait(index, 60 if index == 0 else 10)
        await wait_done(handle)
        if index >= WARMUP:
            to_handler.append(started - committed)
            submit_ms.append((committed - before) * 1000)
    return pickup_measurements(peer, "handler", to_handler, submit_ms)


async def run_peers(
    args: argparse.Namespace, plan: dict[str, Any], collector: Collector, logs: Path,
    stores: list[str], run: int, parts: list[str],
) -> None:
    """Run `run` of the peers' cases for `parts` (of enqueue, drain, latency)."""
    from bench import peer_huey, peer_pgqueuer, peer_procrastinate

    peers: list[tuple[str, str, Any]] = []
    if "postgres" in stores:
        peers.append(("pgqueuer", "PostgreSQL", peer_pgqueuer))
        if "enqueue" in parts:  # its producer side only
            peers.append(("procrastinate", "PostgreSQL", peer_procrastinate))
    peers.append(("huey", f"Redis at {REDIS_HOST}:{REDIS_PORT}", peer_huey))
    for name, where, peer in peers:
        ensure_installed(name)
        print(f"run {run}/{args.runs}, {name} ({where}):", flush=True)
        context = peer.Context(args.postgres_url, logs, f"{name}-r{run}")
        try:
            await _attempts(name, run, collector, context, peer, plan, parts, args)
        finally:
            context.close()


PRODUCER_ROWS = {
    "enqueue.store.submit.c1": ("enqueue.producer.c1", "enqueue: AsyncQueue.enqueue, 1 in flight"),
    "enqueue.store.submit_many": ("enqueue.producer.many",
                                  f"enqueue: AsyncQueue.enqueue_many, {FILL_BATCH} per call"),
}
"""A peer's own enqueue call is its producer API: its figure also goes beside conveyor's
producer API rows (the 10-in-flight row is the store's alone)."""


def with_producer_rows(measurements: list[Measurement]) -> list[Measurement]:
    extra = [dataclasses.replace(m, key=PRODUCER_ROWS[m.key][0], label=PRODUCER_ROWS[m.key][1])
             for m in measurements if m.key in PRODUCER_ROWS]
    return measurements + extra


async def _attempts(
    name: str, run: int, collector: Collector, context: Any, peer: Any,
    plan: dict[str, Any], parts: list[str], args: argparse.Namespace,
) -> None:
    async def attempt(what: str, body: Callable[[], Awaitable[list[Measurement]]]) -> None:
        """One case; a failure is reported and the peer goes on with the next one."""
        try:
            for m in await body():
                collector.add(m)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"  {name:8} {what}: FAILED ({type(exc).__name__}: {first})", flush=True)
            collector.notes.append(f"{name} {what}, run {run}: failed: {first}")

    if "enqueue" in parts:
        async def enqueue() -> list[Measurement]:
            return with_producer_rows(await peer.enqueue_cases(context, plan["enqueue"]))

        await attempt("enqueue", enqueue)
    if "drain" in parts and hasattr(peer, "drain_case"):
        for case in plan["drain"]:
            await attempt(case.label, functools.partial(peer.drain_case, context, case))
    if "latency" in parts and hasattr(peer, "latency_case"):
        await attempt("pickup latency", lambda: peer.latency_case(
            context, plan["latency_samples"], args.concurrency))
