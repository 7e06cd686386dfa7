"""The Python client and the CLI against a real `conveyor up` process (SQLite)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conveyor.client import Client, ClientError
from tests.processes import REPO, ConveyorProcess, free_port, wait_http_ok

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = ConveyorProcess(["up"], {
        "DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "PORT": str(port), "API_KEY": "k3y",
        "TEXT_SECONDS_PER_CHAR": "0.01", "WORKER_POLL_MS": "100", "RATE_LIMIT_PER_MINUTE": "3",
        "DASHBOARD_DIR": str(tmp_path), "RETRY_BACKOFF_BASE_SEC": "0.01",
    }, tmp_path / "up.log")
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/health", process)
    yield url
    process.stop()
    logs = process.log_path.read_text()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    # The trace id of the submitting request follows the job into the worker's log lines.
    worker_lines = [line for line in lines if line.get("traceId") == "client-trace-1"]
    assert "job_succeeded" in {line["event"] for line in worker_lines}, logs
    assert all(line.get("jobId") for line in worker_lines if line["event"] == "job_succeeded")
    assert "k3y" not in logs, "the API key must never be logged"


def test_client_round_trip(server: str) -> None:
    with Client(server, api_key="k3y", tenant="acme") as client:
        job = client.submit_text("Hi", idempotency_key="c1")
        assert client.submit_text("Hi", idempotency_key="c1").id == job.id
        done = client.wait(job.id, timeout=10)
        assert done.status.value == "done" and done.tenant == "acme"
        custom = client.enqueue("no_such_task", {"x": 1})
        assert client.wait(custom.id, timeout=10).status.value == "failed"
        assert [j.id for j in client.dlq().jobs] == [custom.id]
        third = client.submit_text("Hey")
        with pytest.raises(ClientError) as limited:
            client.submit_text("Hi")  # fourth new job for acme at 3 per minute
        assert limited.value.status == 429 and limited.value.code == "rate_limited"
        history = client.get(job.id, history=True).events
        assert history is not None and [e.type for e in history][-1] == "job_succeeded"
        client.wait(third.id, timeout=10)
        assert client.metrics().done == 2 and client.list("failed").total == 1
    with Client(server, api_key="wrong") as client, pytest.raises(ClientError) as denied:
        client.list()
    assert denied.value.status == 401
    traced = httpx.post(f"{server}/jobs", json={"text": "Yo"},
                        headers={"X-API-Key": "k3y", "X-Trace-Id": "client-trace-1"})
    assert traced.headers["x-trace-id"] == "client-trace-1"
    with Client(server, api_key="k3y") as client:
        assert client.wait(traced.json()["id"], timeout=10).trace_id == "client-trace-1"
    # Scheduling, timeouts and cancelling.
    with Client(server, api_key="k3y", tenant="ops") as client:
        at = datetime.now(UTC) + timedelta(hours=1)
        later = client.enqueue("text", {"text": "later"}, run_at=at, timeout=5)
        assert later.status.value == "pending" and later.timeout_sec == 5
        assert abs((later.run_at - at).total_seconds()) < 0.01
        cancelled = client.cancel(later.id)
        assert cancelled.status.value == "cancelled"
        assert client.wait(later.id, timeout=1).status.value == "cancelled"
        with pytest.raises(ClientError) as again:
            client.cancel(later.id)
        assert again.value.status == 409 and "cancelled" in str(again.value)
        redo = client.retry(later.id)
        assert redo.retry_of == later.id and redo.timeout_sec == 5
        assert client.metrics().cancelled == 1
        with pytest.raises(ValueError, match="timezone-aware"):
            client.enqueue("text", {"text": "x"}, run_at=datetime.now())


def test_cli_lists_its_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "conveyor", "--help"], cwd=REPO,
                            capture_output=True, text=True, check=True)
    for command in ("up", "api", "worker", "migrate"):
        assert f"  {command} " in result.stdout
    worker_help = subprocess.run([sys.executable, "-m", "conveyor", "worker", "--help"],
                                 cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "--concurrency" in worker_help and "--import" in worker_help
    assert "--queues" in worker_help


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    subprocess.run([sys.executable, "-m", "conveyor", "migrate", "--database-url", url],
                   cwd=REPO, capture_output=True, check=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "m.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"jobs", "job_events", "rate_limits", "schema_migrations"} <= tables
