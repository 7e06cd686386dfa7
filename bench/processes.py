"""Real `conveyor api` and `conveyor worker` processes, as an operator would run them.

Started with `python -m conveyor …` from the repository root (so `--import bench.tasks`
resolves), with an explicit environment: the benchmark's DATABASE_URL, no rate limit, no API
key, and LOG_LEVEL from the command line (warning by default: a log line per job is a cost
of its own, measured separately). Output goes to a log file that is shown if a process dies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.environment import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def conveyor_env(database_url: str, log_level: str) -> dict[str, str]:
    """The environment every benchmark process gets; it overrides any `.env` file."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "RATE_LIMIT_PER_MINUTE": "0",
        "API_KEY": "",
        "LOG_LEVEL": log_level,
        "EVENT_LOOP": "auto",  # the default: uvloop (installed with uvicorn[standard])
        "HOST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        # The repository root (for `bench.tasks`) after any PYTHONPATH given to the bench,
        # so `PYTHONPATH=/elsewhere/src make bench` measures that checkout of conveyor.
        "PYTHONPATH": os.pathsep.join(
            p for p in (os.environ.get("PYTHONPATH", ""), str(REPO)) if p
        ),
    }


@dataclass(frozen=True)
class WorkerTweaks:
    """What-if knobs for experiments, off by default: the figures in bench/README.md are
    measured without them unless said otherwise."""

    asyncio: bool = False  # the workers on asyncio's own loop (EVENT_LOOP=asyncio), not uvloop
    postgres_options: str = ""  # e.g. "-c synchronous_commit=off", for the workers only

    def url(self, database_url: str) -> str:
        if not self.postgres_options or not database_url.startswith("postgres"):
            return database_url
        joiner = "&" if "?" in database_url else "?"
        return f"{database_url}{joiner}{urlencode({'options': self.postgres_options})}"


class Process:
    """One `python -m conveyor …` child (or `python -m <module> …`, for the bench's reference
    API); stop() sends SIGTERM to this pid only."""

    def __init__(
        self, args: list[str], env: dict[str, str], log_path: Path, module: str = "conveyor",
    ) -> None:
        self.args = args
        self.module = module
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], env=env, cwd=REPO,
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def start_workers(
    count: int, concurrency: int, database_url: str, log_level: str, logs: Path, tag: str,
    tweaks: WorkerTweaks | None = None,
) -> list[Process]:
    tweaks = tweaks or WorkerTweaks()
    env = conveyor_env(tweaks.url(database_url), log_level)
    if tweaks.asyncio:
        env["EVENT_LOOP"] = "asyncio"
    return [
        Process(
            ["worker", "--concurrency", str(concurrency), "--import", "bench.tasks"],
            env, logs / f"{tag}-worker-{index}.log",
        )
        for index in range(count)
    ]


def start_api(database_url: str, log_level: str, logs: Path, tag: str) -> tuple[Process, int]:
    port = free_port()
    process = Process(
        ["api", "--host", "127.0.0.1", "--port", str(port), "--import", "bench.tasks"],
        conveyor_env(database_url, log_level), logs / f"{tag}-api.log",
    )
    return process, port


def start_bare_api(logs: Path, tag: str) -> tuple[Process, int]:
    """The reference FastAPI app of `bench.bare_api` (no store), under uvicorn like
    `conveyor api`."""
    port = free_port()
    process = Process(["--port", str(port)], conveyor_env("", "warning"),
                      logs / f"{tag}-bare-api.log", module="bench.bare_api")
    return process, port


async def wait_http_ok(port: int, process: Process, timeout: float = 30.0) -> None:
    """Until `GET /health` answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.module} exited early:\n{process.tail()}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{process.module} not up after {timeout}s:\n{process.tail()}")


def stop_all(processes: list[Process]) -> None:
    """SIGTERM each, then wait for each: they drain in parallel."""
    for process in processes:
        if process.alive():
            process.proc.send_signal(signal.SIGTERM)
    for process in processes:
        process.stop()
