"""Unique jobs over HTTP, on every driver: `POST /jobs` answers 201 for the job it creates and
200 with `unique_hit: true` for the live job that holds the key; `/jobs/batch` marks each hit;
bad unique options are 422s with the usual error body; a task the API knows applies its own
`unique_on`; a unique key ends when a job leaves its guarded states."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor import task
from conveyor.config import Settings
from conveyor.runtime import build_app, build_registry
from tests.api.conftest import AppFactory, wait_for_status


@task("invoice", unique_on=("order",))
def invoice(order: int, note: str = "") -> None:
    """Known to the API below: its submits derive their key from `order`."""


def test_a_second_submit_of_a_live_key_is_a_200_unique_hit(client: TestClient) -> None:
    created = client.post("/jobs", json={"text": "Hi", "unique_key": "greet-1"})
    assert created.status_code == 201
    body = created.json()
    assert (body["unique_hit"], body["unique_key"], body["unique_while"]) == (
        False, "greet-1", "pending")
    hit = client.post("/jobs", json={"text": "Other", "unique_key": "greet-1"})
    assert hit.status_code == 200
    assert (hit.json()["id"], hit.json()["unique_hit"]) == (body["id"], True)
    assert hit.json()["payload"] == {"text": "Hi"}
    shown = client.get(f"/jobs/{body['id']}").json()
    assert shown["unique_key"] == "greet-1" and "unique_hit" not in shown
    assert client.get("/metrics").json()["jobs_submitted"] == 1
    other = client.post("/jobs", json={"text": "Hi", "unique_key": "greet-1"},
                        headers={"X-Tenant-Id": "acme"})
    assert other.status_code == 201  # the key is the tenant's own


def test_unique_fields_derive_the_key(client: TestClient) -> None:
    first = client.post("/jobs", json={"text": "Hi", "unique_fields": ["text"]})
    assert first.status_code == 201
    assert first.json()["unique_key"] == 'text:{"text":"Hi"}'
    again = client.post("/jobs", json={"payload": {"text": "Hi"}, "unique_fields": ["text"]})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(("body", "message"), [
    ({"text": "a", "unique_while": "active"}, "needs a unique key"),
    ({"text": "a", "unique_key": "k", "unique_fields": ["text"]}, "not both"),
    ({"text": "a", "unique_fields": ["nope"]}, "'nope' is not in the payload"),
    ({"text": "a", "unique_key": "nul\u0000"}, "NUL"),
    ({"text": "a", "unique_while": "always"}, None),
    ({"text": "a", "unique_key": ""}, None),
    ({"text": "a", "unique_key": "k" * 201}, None),
    ({"text": "a", "unique_fields": []}, None),
])
def test_bad_unique_options_are_422(client: TestClient, body: dict[str, Any],
                                    message: str | None) -> None:
    answer = client.post("/jobs", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] and error["trace_id"]
    if message is not None:
        assert message in error["message"]
    assert client.get("/jobs").json()["total"] == 0


def test_a_batch_marks_each_unique_hit(client: TestClient) -> None:
    answer = client.post("/jobs/batch", json={"jobs": [
        {"text": "a", "unique_key": "b-1"}, {"text": "b"}, {"text": "c", "unique_key": "b-1"}]})
    assert answer.status_code == 201
    jobs = answer.json()["jobs"]
    assert [job["unique_hit"] for job in jobs] == [False, False, True]
    assert jobs[2]["id"] == jobs[0]["id"]
    assert client.get("/jobs").json()["total"] == 2


def test_a_pending_key_is_free_again_once_its_job_runs(make_client: AppFactory) -> None:
    client = make_client(run_worker=True, text_seconds_per_char=0.5)
    first = client.post("/jobs", json={"text": "Hello", "unique_key": "run"}).json()
    wait_for_status(client, first["id"], "running")
    second = client.post("/jobs", json={"text": "Hello", "unique_key": "run"})
    assert second.status_code == 201 and second.json()["id"] != first["id"]


@pytest.fixture
def invoicing(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, rate_limit_per_minute=0,
                        dashboard_dir=None)
    app = build_app(settings, build_registry(settings, [__name__]), run_worker=False)
    with TestClient(app) as client:
        yield client


def test_the_apis_known_task_applies_its_unique_on(invoicing: TestClient) -> None:
    first = invoicing.post("/jobs", json={"task": "invoice", "payload": {"order": 5}})
    assert first.status_code == 201 and first.json()["unique_key"] == 'invoice:{"order":5}'
    hit = invoicing.post("/jobs", json={"task": "invoice",
                                        "payload": {"order": 5, "note": "again"}})
    assert hit.status_code == 200 and hit.json()["unique_hit"] is True
    own = invoicing.post("/jobs", json={"task": "invoice", "payload": {"order": 5},
                                        "unique_key": "manual"})
    assert own.status_code == 201
