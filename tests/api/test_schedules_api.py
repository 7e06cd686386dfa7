"""`/schedules` over HTTP: create, read, list, change, enable/disable and delete, with the
errors a client gets for bad input; and a fired job's `schedule` and `scheduled_for` in the
job JSON (a worker in the app fires a one-second interval)."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi.testclient import TestClient

from tests.api.conftest import AppFactory


def _create(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/schedules", json={"name": "report", "task": "report", **body})
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_create_read_list_change_delete(client: TestClient) -> None:
    created = _create(client, cron="*/5 * * * *", payload={"kind": "daily"},
                      timezone="Europe/Berlin", queue="reports", overlap=False)
    assert created["source"] == "api" and created["enabled"] is True
    assert created["tenant"] == "default" and created["max_retries"] is None
    assert created["next_run_at"] is not None and created["last_run_at"] is None
    assert client.get("/schedules/report").json() == created
    assert [s["name"] for s in client.get("/schedules").json()["schedules"]] == ["report"]

    disabled = client.patch("/schedules/report", json={"enabled": False})
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False and disabled.json()["next_run_at"] is None
    enabled = client.patch("/schedules/report", json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["next_run_at"] is not None

    switched = client.patch("/schedules/report", json={"interval_sec": 90}).json()
    assert switched["interval_sec"] == 90 and switched["cron"] is None

    assert client.delete("/schedules/report").status_code == 204
    assert client.get("/schedules/report").status_code == 404
    assert client.delete("/schedules/report").status_code == 404


def test_the_tenant_defaults_to_the_requests(client: TestClient) -> None:
    response = client.post("/schedules", headers={"X-Tenant-Id": "acme"},
                           json={"name": "r", "task": "t", "interval_sec": 60})
    assert response.json()["tenant"] == "acme"


def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    _create(client, cron="@hourly")
    cases = [
        ({"name": "report", "task": "t", "cron": "@hourly"}, 409, "conflict"),
        ({"name": "x", "task": "t", "cron": "* * *"}, 422, "invalid_request"),
        ({"name": "x", "task": "t", "cron": "@hourly", "interval_sec": 60}, 422,
         "invalid_request"),
        ({"name": "x", "task": "t"}, 422, "invalid_request"),
        ({"name": "x", "task": "t", "interval_sec": 0.1}, 422, "invalid_request"),
        ({"name": "x", "task": "t", "cron": "@daily", "timezone": "Nowhere/Land"}, 422,
         "invalid_request"),
        ({"name": "bad name", "task": "t", "cron": "@daily"}, 422, "invalid_request"),
        ({"name": "x", "task": "t", "cron": "@daily", "surprise": 1}, 422, "invalid_request"),
        ({"name": "x", "task": "text", "cron": "@daily", "payload": {"text": 5}}, 422,
         "invalid_request"),
        ({"name": "x", "task": "t", "cron": "@daily", "payload": {"a": "\u0000"}}, 422,
         "invalid_payload"),
    ]
    for body, status, code in cases:
        response = client.post("/schedules", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    patches = [
        ({"enabled": None}, 422), ({"cron": "nope"}, 422), ({"name": "other"}, 422),
        ({"task": "text", "payload": {"text": 5}}, 422),
    ]
    for patch, status in patches:
        response = client.patch("/schedules/report", json=patch)
        assert response.status_code == status, (patch, response.text)
    assert client.patch("/schedules/missing", json={"enabled": False}).status_code == 404
    assert client.get("/schedules/report").json()["cron"] == "@hourly"  # nothing changed
    assert [s["name"] for s in client.get("/schedules").json()["schedules"]] == ["report"]


def test_a_fired_job_carries_its_schedule_and_tick(make_client: AppFactory) -> None:
    client = make_client(run_worker=True)
    _create(client, task="noop", interval_sec=1)
    deadline = time.monotonic() + 15
    jobs: list[dict[str, object]] = []
    while not jobs:
        assert time.monotonic() < deadline, "the schedule never fired"
        jobs = [j for j in client.get("/jobs?limit=50").json()["jobs"] if j["schedule"]]
        time.sleep(0.05)
    job = jobs[-1]
    assert job["schedule"] == "report" and job["task"] == "noop"
    assert isinstance(job["scheduled_for"], str)
    tick = datetime.fromisoformat(job["scheduled_for"])
    assert tick <= datetime.fromisoformat(str(job["created_at"]))
    stored = client.get("/schedules/report").json()
    assert stored["last_job_id"] is not None and stored["last_run_at"] is not None
