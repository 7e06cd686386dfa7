"""End-to-end fixtures: a real `conveyor up` serving the built dashboard, and headless Chromium.

The browser is Debian's /usr/bin/chromium driven by Playwright's Python package; nothing
downloads a browser. Without it (or without Playwright, or without a built dashboard) these
tests skip with the reason, unless CONVEYOR_REQUIRE_BROWSER=1 (CI), where they fail instead.
Every test leaves a screenshot of its last state in test-artifacts/ at the repository root.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dashboard" / "dist"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}


def _unavailable(reason: str) -> None:
    if os.environ.get("CONVEYOR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CONVEYOR_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ConveyorServer:
    """`conveyor up` (API + one worker) on SQLite in a temporary folder, run from that folder so
    no `.env` of the checkout applies. `stop()` then `start()` keeps the port and the database,
    as an API restart does."""

    def __init__(self, workdir: Path, extra_env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "conveyor.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir}/c.db",
            "TEXT_SECONDS_PER_CHAR": "0.2",
            "LEASE_TIMEOUT_SEC": "5",
            "RATE_LIMIT_PER_MINUTE": "1000",
            "MAX_RETRIES": "1",
            "RETRY_BACKOFF_BASE_SEC": "0.2",
            "WORKER_POLL_MS": "200",
            "SHUTDOWN_GRACE_SEC": "1",
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DASHBOARD_DIR": str(DIST),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        if "API_KEY" not in extra_env:
            self.env.pop("API_KEY", None)
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "conveyor", "up"], env=self.env, cwd=self.workdir,
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"conveyor up exited early:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"conveyor up not healthy after {timeout}s:\n{self.logs()}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=5.0)

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=5.0)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the e2e package. Package scope, not session: Playwright's sync API
    keeps an event loop running in the main thread, which would break the asyncio tests that
    run after this package."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: install Debian's chromium package for browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    if not (DIST / "index.html").is_file():
        _unavailable("the dashboard is not built: run `make dashboard`"
                     " (cd dashboard && npm ci && npm run build)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ConveyorServer]]:
    """Start `conveyor up` with extra environment; every server started is stopped after."""
    servers: list[ConveyorServer] = []

    def start(**extra_env: str) -> ConveyorServer:
        server = ConveyorServer(tmp_path / f"server{len(servers)}", extra_env)
        server.log_path.parent.mkdir()
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (empty local storage) at 1280 px; its last state is saved as
    test-artifacts/<test name>.png, and browser errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"errors in the page: {errors}"


def screenshot(page: Any, name: str) -> None:
    """Save an extra screenshot of a moment worth seeing."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
