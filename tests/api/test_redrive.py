"""`POST /dlq/redrive` on every driver: the filter, dry runs, limits, what each redriven
job's history says, refused bodies, skipped rows and the pacing of `rate_per_sec`."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.api import dlq
from conveyor.models import Fail
from conveyor.payloads import MAX_DEPTH
from conveyor.store.base import Store
from tests.api.conftest import AppFactory
from tests.store.sql import overwrite_payload_sync

KEY = "s3cret"
AUTH = {"X-API-Key": KEY}


def dead(client: TestClient, task: str = "resize", *, queue: str = "default",
         tenant: str = "default", error: str = "boom") -> str:
    """A job in the DLQ: submitted over the API, then leased and failed for good by a test
    "worker" (the app runs none, so redriven jobs stay pending where the test sees them)."""
    response = client.post("/jobs", json={"task": task, "payload": {"x": 1}, "queue": queue},
                           headers=AUTH | {"X-Tenant-Id": tenant})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    assert client.portal is not None
    [lease] = client.portal.call(store.lease, "test-worker", [queue], 1, 300.0)
    assert str(lease.job_id) == job_id
    client.portal.call(store.finish, [Fail(lease, error, permanent=True)], "test-worker")
    return job_id


def redrive(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/dlq/redrive", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client(api_key=KEY)


def test_dry_run_counts_by_filter_and_redrives_nothing(client: TestClient) -> None:
    dead(client, "resize", queue="img", error="disk full")
    dead(client, "resize", queue="img", tenant="acme", error="timeout")
    dead(client, "mail", error="smtp timeout")
    before = time.time()
    counted = redrive(client, dry_run=True)
    as_of = datetime.fromisoformat(counted.pop("as_of")).timestamp()
    assert counted == {"matched": 3, "counts_exact": True, "redriven": 0, "dry_run": True,
                       "remaining": 3, "jobs": [], "skipped": []}
    assert before - 1 < as_of < time.time() + 1  # the store's clock, which is this host's
    assert redrive(client, dry_run=True, task="resize")["matched"] == 2
    assert redrive(client, dry_run=True, queue="img", error="timeout")["matched"] == 1
    assert redrive(client, dry_run=True, tenant="acme")["matched"] == 1
    assert redrive(client, dry_run=True, error="Timeout")["matched"] == 0  # case-sensitive
    assert redrive(client, dry_run=True, failed_after="2000-01-01T00:00:00Z",
                   failed_before="2999-01-01T00:00:00+02:00")["matched"] == 3
    assert redrive(client, dry_run=True, failed_after="2999-01-01T00:00:00Z")["matched"] == 0
    assert client.get("/jobs", params={"status": "pending"}, headers=AUTH).json()["total"] == 0


def test_redrive_loops_to_zero_and_records_it_in_each_history(client: TestClient) -> None:
    ids = [dead(client, "mail", error="smtp down") for _ in range(5)]
    dead(client, "other")
    first = redrive(client, task="mail", limit=2)
    assert (first["matched"], first["redriven"], first["remaining"]) == (5, 2, 3)
    assert [pair["id"] for pair in first["jobs"]] == ids[:2]  # oldest first
    rest = redrive(client, task="mail")
    assert (rest["matched"], rest["redriven"], rest["remaining"]) == (3, 3, 0)
    assert redrive(client, task="mail")["matched"] == 0
    for pair in first["jobs"] + rest["jobs"]:
        original = client.get(f"/jobs/{pair['id']}", params={"history": "true"},
                              headers=AUTH).json()
        assert original["status"] == "failed" and original["retried_by"] == pair["retried_by"]
        event = original["events"][-1]
        assert event["type"] == "job_retried"
        filter = event["data"].pop("filter")
        assert event["data"] == {"retried_by": pair["retried_by"], "redrive": True,
                                 "actor": "admin"}
        assert filter == {"task": "mail", "failed_before": filter["failed_before"]}
        assert datetime.fromisoformat(filter["failed_before"]) in {
            datetime.fromisoformat(first["as_of"]), datetime.fromisoformat(rest["as_of"])}
        copy = client.get(f"/jobs/{pair['retried_by']}", headers=AUTH).json()
        assert (copy["status"], copy["retry_of"], copy["task"]) == ("pending", pair["id"],
                                                                   "mail")
    # What is left in the DLQ is the one that did not match.
    assert redrive(client, dry_run=True)["matched"] == 1
    # A retry of a redriven job is refused like a second retry.
    again = client.post(f"/jobs/{ids[0]}/retry", headers=AUTH)
    assert again.status_code == 409


@pytest.mark.parametrize(("body", "says"), [
    ({"limit": 0}, "limit"),
    ({"limit": 10_001}, "limit"),
    ({"limit": "5"}, "limit"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"rate_per_sec": 0}, "rate_per_sec"),
    ({"rate_per_sec": 0.01}, "rate_per_sec"),
    ({"task": "bad name"}, "task"),
    ({"error": ""}, "error"),
    ({"error": "nul \u0000 inside"}, "error: Value error, contains the NUL character"),
    ({"failed_after": "2024-01-01T00:00:00"}, "failed_after"),  # no offset
    ({"failed_after": 1700000000}, "failed_after"),
    ({"failed_after": "2024-02-01T00:00:00Z", "failed_before": "2024-01-01T00:00:00Z"},
     "failed_before: Value error, must be later than failed_after"),
    ({"status": "cancelled"}, "status"),  # no such field: cancelled jobs are not in the DLQ
])
def test_refused_bodies_are_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                                 says: str) -> None:
    response = client.post("/dlq/redrive", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(says), error


def test_the_key_is_needed(client: TestClient) -> None:
    response = client.post("/dlq/redrive", json={"dry_run": True})
    assert response.status_code == 401


def test_a_row_beyond_the_payload_limits_is_skipped(client: TestClient,
                                                    database_url: str) -> None:
    ids = [dead(client) for _ in range(3)]
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    overwrite_payload_sync(database_url, ids[0], json.dumps(deep))
    answer = redrive(client)
    assert (answer["matched"], answer["redriven"], answer["remaining"]) == (3, 2, 1)
    [skipped] = answer["skipped"]
    assert skipped["id"] == ids[0] and "stored payload" in skipped["reason"]
    # Calling again redrives nothing: the caller's sign to stop.
    again = redrive(client)
    assert (again["redriven"], again["remaining"], len(again["skipped"])) == (0, 1, 1)


def _created_at(client: TestClient, job_ids: list[str]) -> list[float]:
    return [datetime.fromisoformat(client.get(f"/jobs/{job_id}", headers=AUTH)
                                   .json()["created_at"]).timestamp() for job_id in job_ids]


def test_rate_paces_the_new_jobs(client: TestClient) -> None:
    for _ in range(8):
        dead(client)
    rate = 20.0  # two jobs a tenth of a second
    started = time.monotonic()
    answer = redrive(client, rate_per_sec=rate)
    took = time.monotonic() - started
    assert (answer["redriven"], answer["remaining"]) == (8, 0)
    created = _created_at(client, [pair["retried_by"] for pair in answer["jobs"]])
    assert created == sorted(created)
    # Job k is created no sooner than its batch's turn (batches of 2): never a burst.
    for k, at in enumerate(created):
        assert at - created[0] >= (k // 2) * 2 / rate - 0.01, (k, created)
    assert took >= 3 * 2 / rate - 0.01
    assert took < 5, "generous: pacing 8 jobs at 20/s takes 0.3 s"


def test_a_paced_call_ends_in_time_and_the_next_keeps_the_rate(
    client: TestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dlq, "PACED_CALL_SEC", 0.25)
    for _ in range(12):
        dead(client)
    rate = 10.0  # one job a tenth of a second
    first = redrive(client, rate_per_sec=rate)
    assert 2 <= first["redriven"] < 12 and first["remaining"] == 12 - first["redriven"]
    second = redrive(client, rate_per_sec=rate, limit=100)
    assert second["matched"] == first["remaining"]
    pairs = first["jobs"] + second["jobs"]
    created = _created_at(client, [pair["retried_by"] for pair in pairs])
    # Across the two calls too, one job per turn.
    gaps = [later - earlier for earlier, later in itertools.pairwise(created)]
    assert min(gaps) >= 1 / rate - 0.02, gaps
