"""HTTP load: `POST /jobs` from many keep-alive connections at once, for a fixed time.

The enqueue benchmarks send one request at a time per connection from at most `concurrency`
connections; this case asks what one API process sustains when many clients push at once
(64 connections by default, for 15 s; 5 s with `--quick`), and what that costs in latency.
It runs against one `conveyor api` process on each store and, as the reference, against a
bare FastAPI + uvicorn app (`bench.bare_api`) that validates the same body with the same
pydantic model and answers the same model, touching no database. "conveyor as % of bare
FastAPI" is conveyor's requests/s over the reference's, from the same run and client.

The load generator is `wrk` when it is installed (`apt-get install -y wrk`): one thread,
C, a few percent of one core, so nearly all of the two cores go to the server measured. Without
it (or with `--http-client python`) the bench's own HTTP/1.1 client runs the connections on
this process's event loop instead; it needs most of a core itself at these rates, so its
figures are lower and not comparable with wrk's. The client is part of every row's label and
key, so the two never mix in a table.

Figures: requests/s counts answers with the expected status (201) over the measured time;
p50/p99 are per-request latencies (send to full answer); errors are every other outcome
(other statuses, socket errors, timeouts).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.environment import cpu_between, cpu_snapshot
from bench.httpclient import HttpConnection
from bench.processes import Process, start_api, start_bare_api, wait_http_ok
from bench.results import Measurement, percentile

BODY = json.dumps({"task": "bench_noop", "payload": {"n": 0}}).encode()
"""The body of every request: the same as the enqueue benchmarks' `POST /jobs`."""
BARE = "bare-fastapi"
"""The reference's column in the table."""
WARMUP_REQUESTS = 20

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,'
    .. '"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class HttpLoad:
    seconds: float
    connections: int
    client: str  # "wrk" or "python"


def choose_client(wanted: str) -> tuple[str, str | None]:
    """("wrk" or "python", a note to print or None). `auto` takes wrk when it is on PATH."""
    found = shutil.which("wrk") is not None
    if wanted == "wrk" and not found:
        raise SystemExit("--http-client wrk: wrk is not installed (apt-get install -y wrk)")
    if wanted == "python" or (wanted == "auto" and not found):
        note = None if wanted == "python" else (
            "wrk is not installed (apt-get install -y wrk): the HTTP load case uses the "
            "bench's own client, whose CPU competes with the server's; its figures are lower "
            "than wrk's and are keyed apart from them")
        return "python", note
    return "wrk", None


@dataclass
class _Outcome:
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    details: dict[str, Any]


def _wrk_script(logs: Path) -> Path:
    """The Lua script that makes wrk POST the body and print its figures as JSON."""
    path = logs / "wrk-post-jobs.lua"
    path.write_text(_WRK_SCRIPT % BODY.decode())
    return path


async def _wrk(port: int, load: HttpLoad, logs: Path) -> _Outcome:
    seconds = max(1, round(load.seconds))
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{load.connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(_wrk_script(logs)), f"http://127.0.0.1:{port}/jobs",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{text[-2000:]}")
    r = json.loads(line.removeprefix("RESULT "))
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return _Outcome(
        ok=r["requests"] - r["status"], errors=errors, seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000, max_ms=r["max_us"] / 1000,
        details={"wrk": r},
    )


async def _python_client(port: int, load: HttpLoad) -> _Outcome:
    """`connections` keep-alive connections, each sending one request after the other."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + load.seconds

    async def one() -> None:
        nonlocal errors
        while loop.time() < deadline:
            try:
                async with HttpConnection(port) as connection:
                    while loop.time() < deadline:
                        began = loop.time()
                        status, _ = await connection.post_json("/jobs", BODY)
                        if status == 201:
                            latencies.append(loop.time() - began)
                        else:
                            errors += 1
            except (OSError, asyncio.IncompleteReadError):
                errors += 1  # a dropped connection: count it and open another
                await asyncio.sleep(0.01)

    await asyncio.gather(*(one() for _ in range(load.connections)))
    elapsed = loop.time() - start
    return _Outcome(
        ok=len(latencies), errors=errors, seconds=elapsed,
        p50_ms=percentile(latencies, 50) * 1000, p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=float("nan")) * 1000, details={},
    )


def _reaped_children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


async def _warm(port: int) -> None:
    async with HttpConnection(port) as connection:
        for _ in range(WARMUP_REQUESTS):
            status, answer = await connection.post_json("/jobs", BODY)
            if status != 201:
                raise RuntimeError(f"POST /jobs answered {status}: {answer[:300]!r}")


async def _load(
    column: str, start: Callable[[], tuple[Process, int]], load: HttpLoad, logs: Path,
    run: int,
) -> list[Measurement]:
    process, port = start()
    try:
        await wait_http_ok(port, process)
        await _warm(port)
        before = cpu_snapshot([process.pid])
        children_before = _reaped_children_cpu()
        began = time.monotonic()
        if load.client == "wrk":
            outcome = await _wrk(port, load, logs)
        else:
            outcome = await _python_client(port, load)
        wall = time.monotonic() - began
        # wrk has exited and been waited for: its CPU is in this process's children times.
        client = _reaped_children_cpu() - children_before if load.client == "wrk" else None
        cpu = cpu_between(before, cpu_snapshot([process.pid]), client)
        if not process.alive():
            raise RuntimeError(f"the server exited during the load:\n{process.tail()}")
    finally:
        process.stop()
    rate = outcome.ok / outcome.seconds if outcome.seconds > 0 else float("nan")
    details = {
        "run": run, "client": load.client, "connections": load.connections,
        "seconds": round(outcome.seconds, 3), "wall_sec": round(wall, 3),
        "ok": outcome.ok, "errors": outcome.errors,
        "p50_ms": round(outcome.p50_ms, 3), "p99_ms": round(outcome.p99_ms, 3),
        "max_ms": round(outcome.max_ms, 3), "cpu_seconds": cpu, **outcome.details,
    }
    if outcome.ok:
        details["server_cpu_ms_per_request"] = round(
            cpu["workers_or_api"] * 1000 / outcome.ok, 4)
    what = f"HTTP load: POST /jobs, {load.connections} connections ({load.client})"
    key = f"http.load.{load.client}.c{load.connections}"
    quiet = {k: v for k, v in details.items() if k != "cpu_seconds"}  # flagged once, below
    return [
        Measurement(key=f"{key}.rps", label=f"{what}, requests/s", store=column, value=rate,
                    unit="req/s", details=details),
        Measurement(key=f"{key}.p50", label="  … latency p50", store=column,
                    value=outcome.p50_ms, unit="ms", details=quiet, higher_is_better=False),
        Measurement(key=f"{key}.p99", label="  … latency p99", store=column,
                    value=outcome.p99_ms, unit="ms", details=quiet, higher_is_better=False),
        Measurement(key=f"{key}.errors", label="  … errors", store=column,
                    value=float(outcome.errors), unit="count", details=quiet,
                    higher_is_better=False),
    ]


async def run_conveyor_load(
    kind: str, new_database: Callable[[], str], drop: Callable[[str], None], load: HttpLoad,
    log_level: str, logs: Path, tag: str, run: int,
) -> list[Measurement]:
    """The load against one `conveyor api` process on a fresh database of `kind`."""
    url = new_database()
    try:
        return await _load(kind, lambda: start_api(url, log_level, logs, f"{tag}-load"),
                           load, logs, run)
    finally:
        drop(url)


async def run_bare_load(load: HttpLoad, logs: Path, tag: str, run: int) -> list[Measurement]:
    """The same load against the bare FastAPI reference."""
    return await _load(BARE, lambda: start_bare_api(logs, tag), load, logs, run)


def ratio_measurements(measurements: list[Measurement], run: int) -> list[Measurement]:
    """"conveyor as % of bare FastAPI": each store's requests/s over the reference's, both
    from run `run` and the same client."""
    rates = [m for m in measurements
             if m.key.startswith("http.load.") and m.key.endswith(".rps")
             and m.details.get("run") == run]
    out = []
    for bare in (m for m in rates if m.store == BARE):
        for m in rates:
            if m.store == BARE or m.key != bare.key:
                continue
            out.append(Measurement(
                key=bare.key.removesuffix(".rps") + ".vs_bare",
                label="  … conveyor as % of bare FastAPI", store=m.store,
                value=100 * m.value / bare.value if bare.value > 0 else float("nan"),
                unit="%", details={"run": run, "conveyor": m.value, "bare": bare.value},
            ))
    return out
