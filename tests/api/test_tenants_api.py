"""`/tenants` over HTTP (read, list, set, and the errors of bad input), a tenant's rate
limit overriding RATE_LIMIT_PER_MINUTE for its submits, and `conveyor tenants` against a real
`conveyor api` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.client import Client
from tests.api.conftest import AppFactory
from tests.processes import ConveyorProcess, free_port, wait_http_ok

SCRIPT = Path(sys.executable).with_name("conveyor")


def test_read_set_list_and_clear(client: TestClient) -> None:
    fresh = client.get("/tenants/acme")
    assert fresh.status_code == 200
    assert fresh.json() == {"name": "acme", "weight": None, "max_running": None,
                            "rate_per_minute": None, "pending": 0, "running": 0}
    changed = client.put("/tenants/acme", json={"weight": 2, "max_running": 5})
    assert changed.status_code == 200
    assert (changed.json()["weight"], changed.json()["max_running"]) == (2, 5)
    client.post("/jobs", json={"text": "hi", "delay_sec": 3600}, headers={"X-Tenant-Id": "acme"})
    listed = client.get("/tenants").json()["tenants"]
    assert [(t["name"], t["weight"], t["pending"]) for t in listed] == [("acme", 2, 1)]
    # PUT replaces: what is left out goes back to the default.
    replaced = client.put("/tenants/acme", json={"rate_per_minute": 10}).json()
    assert (replaced["weight"], replaced["max_running"], replaced["rate_per_minute"]) == (
        None, None, 10)


@pytest.mark.parametrize("body", [{"weight": 0}, {"weight": 1001}, {"max_running": -1},
                                  {"rate_per_minute": "5"}, {"weight": 1.5}, {"colour": 1}])
def test_bad_settings_are_422_with_a_json_body(client: TestClient, body: dict[str, object]
                                               ) -> None:
    response = client.put("/tenants/acme", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_a_bad_tenant_name_is_400(client: TestClient) -> None:
    response = client.put("/tenants/-bad", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_a_tenant_rate_overrides_the_default_for_its_submits(make_client: AppFactory) -> None:
    client = make_client(rate_limit_per_minute=1000)
    assert client.put("/tenants/slow", json={"rate_per_minute": 2}).status_code == 200
    slow = {"X-Tenant-Id": "slow"}
    statuses = [client.post("/jobs", json={"text": "hi"}, headers=slow).status_code
                for _ in range(3)]
    assert statuses == [201, 201, 429]
    batch = client.post("/jobs/batch", json={"jobs": [{"text": "a"}] * 3}, headers=slow)
    assert batch.status_code == 422  # can never fit its bucket of 2
    other = client.post("/jobs", json={"text": "hi"}, headers={"X-Tenant-Id": "other"})
    assert other.status_code == 201  # the default still applies to everyone else
    # 0: no limit for that tenant, even under a default.
    client.put("/tenants/slow", json={"rate_per_minute": 0})
    assert {client.post("/jobs", json={"text": "hi"}, headers=slow).status_code
            for _ in range(3)} == {201}


@pytest.mark.slow
def test_the_cli_lists_shows_and_sets(tmp_path: Path) -> None:
    port = free_port()
    process = ConveyorProcess(["api"], {
        "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "PORT": str(port), "API_KEY": "k",
        "RATE_LIMIT_PER_MINUTE": "0", "DASHBOARD_DIR": str(tmp_path), "LOG_LEVEL": "warning",
    }, tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/health", process)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_KEY")}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(SCRIPT), "tenants", *args], capture_output=True,
                                  text=True, timeout=60, check=False,
                                  env={**env, "CONVEYOR_URL": url, "API_KEY": "k"})

        assert run("set", "acme", "--weight", "3", "--max-running", "4").returncode == 0
        kept = json.loads(run("set", "acme", "--rate", "60", "--json").stdout)
        assert [(t["weight"], t["max_running"], t["rate_per_minute"]) for t in kept] == [
            (3, 4, 60)]  # what was not given stayed
        cleared = json.loads(run("set", "acme", "--weight", "default", "--json").stdout)
        assert cleared[0]["weight"] is None and cleared[0]["max_running"] == 4
        with Client(url, api_key="k", tenant="acme") as api:
            api.enqueue("text", {"text": "hi"})
        table = run("list").stdout.splitlines()
        assert table[0].split()[:2] == ["tenant", "weight"]
        assert table[1].split()[0] == "acme" and "1 (default)" in table[1]
        shown = json.loads(run("show", "acme", "--json").stdout)
        assert shown[0]["pending"] == 1
        bad = run("set", "acme", "--weight", "0")
        assert bad.returncode == 2 and "from 1 to 1000" in bad.stderr
    finally:
        process.stop()
