from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.runtime import build_app, build_registry

AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(database_url: str) -> Iterator[AppFactory]:
    """Start the app (lifespan included) on a fresh database with the given settings."""
    clients: list[TestClient] = []

    def make(run_worker: bool = False, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "database_url": database_url,
            "rate_limit_per_minute": 1000,
            "text_seconds_per_char": 0.01,
            "worker_poll_ms": 100,
            "retry_backoff_base_sec": 0.01,
            "dashboard_dir": None,
        }
        values.update(overrides)
        settings = Settings(**values)
        app = build_app(settings, build_registry(settings), run_worker=run_worker)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


def wait_for_status(client: TestClient, job_id: str, status: str,
                    headers: dict[str, str] | None = None, timeout: float = 15.0) -> None:
    """Poll the job until it has `status`, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while client.get(f"/jobs/{job_id}", headers=headers or {}).json()["status"] != status:
        assert time.monotonic() < deadline, f"job {job_id} never became {status}"
        time.sleep(0.02)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()
