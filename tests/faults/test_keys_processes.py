"""API keys across real processes, on every driver: a key made with `conveyor keys create`
through one `conveyor api` process works on a second one at once (stored, not held in
memory), and once `conveyor keys revoke` has revoked it through the first, the second stops
accepting it within the key cache's few seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.api.auth import CACHE_SEC
from tests.processes import REPO, ConveyorProcess, free_port, wait_http_ok

pytestmark = pytest.mark.slow

ADMIN = "operator-secret"


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args, "--url", url], cwd=REPO, text=True,
        capture_output=True, timeout=60,
        env={**os.environ, "API_KEY": ADMIN}, check=False)


@pytest.fixture
def apis(tmp_path: Path, database_url: str) -> Iterator[list[str]]:
    ports = [free_port(), free_port()]
    processes = [ConveyorProcess(["api", "--port", str(port)],
                                 {"DATABASE_URL": database_url, "API_KEY": ADMIN},
                                 tmp_path / f"api-{index}.log")
                 for index, port in enumerate(ports)]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            wait_http_ok(f"{url}/health", process)
        yield urls
    finally:
        for process in processes:
            process.kill()


def test_a_key_revoked_on_one_api_process_stops_working_on_another(apis: list[str]) -> None:
    first, second = apis
    made = cli("keys", "create", "--tenant", "acme", "--name", "ci", url=first)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("cvk_") and "not shown again" in made.stderr
    headers = {"X-API-Key": key}
    job = httpx.post(f"{second}/jobs", json={"text": "hi"}, headers=headers)
    assert job.status_code == 201 and job.json()["tenant"] == "acme"

    listed = cli("keys", "list", "--json", url=first)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["tenant"] == "acme" and entry["name"] == "ci" and "key" not in entry
    table = cli("keys", "list", url=first)
    assert entry["id"] in table.stdout and key not in table.stdout

    revoked = cli("keys", "revoke", entry["id"], url=first)
    assert revoked.returncode == 0, revoked.stderr
    began = time.monotonic()
    while httpx.get(f"{second}/jobs", headers=headers).status_code != 401:
        assert time.monotonic() - began < CACHE_SEC + 5, "the revoked key still works"
        time.sleep(0.1)
    assert httpx.get(f"{first}/jobs", headers=headers).status_code == 401
    refused = cli("keys", "list", url=first)
    assert refused.returncode == 0  # the admin key (API_KEY) is not a stored key
    anonymous = subprocess.run([sys.executable, "-m", "conveyor", "keys", "list", "--url", first],
                               cwd=REPO, text=True, capture_output=True, timeout=60,
                               env={k: v for k, v in os.environ.items() if k != "API_KEY"},
                               check=False)
    assert anonymous.returncode != 0 and "401" in anonymous.stderr + anonymous.stdout
