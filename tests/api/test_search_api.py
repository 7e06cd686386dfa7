"""`GET /jobs` and `GET /dlq` as a search, and `POST /jobs/cancel`, on every driver: each
query parameter reaches the store's filter, keyset pages, refused parameters (4xx, never a
500), and a bulk cancel run to the end the way the dashboard runs it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.models import Fail
from conveyor.store.base import Store
from tests.api.conftest import AppFactory


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def submit(client: TestClient, task: str = "t", tenant: str = "default", **body: Any) -> str:
    response = client.post("/jobs", json={"task": task, "payload": {}, **body},
                           headers={"X-Tenant-Id": tenant})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def fail(client: TestClient, job_id: str, error: str, queue: str = "default") -> None:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    assert client.portal is not None
    [lease] = client.portal.call(store.lease, "w", [queue], 1, 300.0)
    assert str(lease.job_id) == job_id
    client.portal.call(store.finish, [Fail(lease, error, permanent=True)], "w")


def listed(client: TestClient, path: str = "/jobs", **params: Any) -> list[str]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["jobs"]]


def test_every_parameter_narrows_the_list(client: TestClient) -> None:
    a = submit(client, "mail", "acme", payload={"to": "alice@example.com"}, queue="q1")
    fail(client, a, "SMTPError: 550", queue="q1")
    b = submit(client, "report", "globex", payload={"month": "2026-11"})
    c = submit(client, "mail", "acme", payload={"to": "carol@example.com"})
    assert listed(client) == [c, b, a]
    assert listed(client, tenant="acme") == [c, a]
    assert listed(client, task="report") == [b]
    assert listed(client, queue="q1") == [a]
    assert listed(client, error="550") == [a]
    assert listed(client, "/dlq", error="550") == [a]
    assert listed(client, "/dlq", task="report") == []
    assert listed(client, payload="example.com", status="pending") == [c]
    assert listed(client, id_prefix=b[:13]) == [b]
    job = client.get(f"/jobs/{a}").json()
    assert listed(client, finished_after=job["finished_at"]) == [a]
    assert listed(client, created_before="2000-01-01T00:00:00Z") == []
    assert listed(client, created_after="2000-01-01T00:00:00+02:00", task="mail") == [c, a]


def test_cursor_pages(client: TestClient) -> None:
    made = [submit(client) for _ in range(5)]
    page = client.get("/jobs", params={"limit": 2}).json()
    seen = [job["id"] for job in page["jobs"]]
    while page["next_cursor"] is not None:
        page = client.get("/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        seen += [job["id"] for job in page["jobs"]]
    assert seen == made[::-1]
    assert page["total"] == 5 and page["total_exact"] is True


@pytest.mark.parametrize("params", [
    {"cursor": "nope"}, {"id_prefix": "xyz"}, {"id_prefix": "0" * 33}, {"error": ""},
    {"payload": "p" * 201}, {"created_after": "yesterday"}, {"finished_before": "2026-01-01"},
    {"tenant": "bad tenant"},
])
def test_parameters_their_schema_refuses_are_400s(client: TestClient,
                                                  params: dict[str, str]) -> None:
    response = client.get("/jobs", params=params)
    assert response.status_code == 400, response.text
    assert "error" in response.json()


@pytest.mark.parametrize("params", [
    {"error": "a\x00b"}, {"trace_id": "a\x00"}, {"payload": "\x00"},
    {"created_after": "0001-01-01T00:00:00+14:00"},
])
def test_parameters_the_store_cannot_take_are_422s(client: TestClient,
                                                   params: dict[str, str]) -> None:
    response = client.get("/dlq", params=params)
    assert response.status_code == 422, response.text
    assert "error" in response.json()


def test_id_prefixes_with_dashes_and_a_cursor_with_an_offset(client: TestClient) -> None:
    made = [submit(client) for _ in range(3)]
    assert listed(client, id_prefix=f"-{made[1].replace('-', '--')}-") == [made[1]]
    assert listed(client, cursor=made[2], offset=1) == [made[0]]


def test_bulk_cancel_runs_to_the_end_as_the_dashboard_does(client: TestClient) -> None:
    for _ in range(5):
        submit(client, "batchy")
    keep = submit(client, "other")
    preview = client.post("/jobs/cancel", json={"task": "batchy", "dry_run": True}).json()
    assert (preview["matched"], preview["cancelled"], preview["dry_run"]) == (5, 0, True)
    body: dict[str, Any] = {"task": "batchy", "limit": 2}
    first = client.post("/jobs/cancel", json=body).json()
    assert (first["matched"], first["cancelled"], first["remaining"]) == (5, 2, 3)
    late = submit(client, "batchy")  # after the bulk began: not taken
    body["created_before"] = first["as_of"]
    total = first["cancelled"]
    while True:
        step = client.post("/jobs/cancel", json=body).json()
        total += step["cancelled"]
        if step["remaining"] == 0 or step["cancelled"] == 0:
            break
    assert total == 5
    assert client.get(f"/jobs/{late}").json()["status"] == "pending"
    assert client.get(f"/jobs/{keep}").json()["status"] == "pending"
    assert client.get("/jobs", params={"status": "cancelled"}).json()["total"] == 5
    refused = client.post("/jobs/cancel", json={"status": "failed"})
    assert refused.status_code == 422
