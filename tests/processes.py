"""Real `conveyor` processes for fault tests: started with their own environment, logs kept
in a file for the failure message, stopped with SIGTERM or killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ConveyorProcess:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        full_env.setdefault("LOG_LEVEL", "info")
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", *args], env=full_env, cwd=REPO,
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the graceful path."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.args} ignored SIGTERM:\n{self.logs()}") from None
        self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when a machine dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._log.close()


def wait_http_ok(url: str, process: ConveyorProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.logs()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not up after {timeout}s:\n{process.logs()}")


async def until(check: Callable[[], Awaitable[T]], timeout: float = 10.0,
                interval: float = 0.05, message: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"{message} not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)
