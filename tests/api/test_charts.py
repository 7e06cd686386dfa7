"""The charts' routes (`GET /stats/queues`, `/stats/latency`, `/stats/failures`), on both
stores: the contract's shapes, from the samples in the store (so a new API process answers
the same), the window, and a tenant's key seeing only its own figures.

Samples are written by calling the store as a worker's sampler would, for a minute in the
past into which the test moves its jobs and events (in SQL: no waiting for minutes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from conveyor.models import Fail, NewJob
from conveyor.store import charts
from tests.api.conftest import AppFactory
from tests.store.sql import run_at_times

ADMIN_KEY = "admin-secret"


def iso(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Sampling:
    """The app's store, called from the test thread the way the app's loop runs it."""

    def __init__(self, client: TestClient) -> None:
        self.store: Any = client.app.state.store  # type: ignore[attr-defined]
        self.portal: Any = client.portal  # type: ignore[attr-defined]

    def call(self, fn: Any, *args: Any) -> Any:
        return self.portal.call(fn, *args)

    def fail(self, task: str, tenant: str, minute: float) -> None:
        """A job of `task` whose attempt fails for good (dead-lettered) at `minute` + 20 s,
        after a 2 s wait and a 3 s run."""
        job = self.call(self.store.submit, NewJob(task, {}, tenant=tenant, queue=task)).job
        [lease] = self.call(self.store.lease, "w", [task], 1, 300.0)
        self.call(self.store.finish, [Fail(lease, "boom", permanent=True)], "w")
        self.call(run_at_times, self.store,
                  "UPDATE jobs SET run_at = ts(?), started_at = ts(?), finished_at = ts(?)"
                  " WHERE id = ?", (minute + 15, minute + 17, minute + 20, job.id))
        self.call(run_at_times, self.store, "UPDATE job_events SET at = ts(?) WHERE job_id = ?",
                  (minute + 20, job.id))

    def sample(self, minute: float) -> None:
        sampled = self.call(self.store.sample_stats, "test", 7.0, iso(minute))
        assert sampled.minute == iso(minute)


def test_the_charts_answer_the_contracts_shapes_from_the_store(
    make_client: AppFactory,
) -> None:
    client = make_client()
    minute = charts.minute_start(time.time()) - 120
    for tenant in ("acme", "globex"):
        client.post("/jobs", json={"text": "wait"}, headers={"X-Tenant-Id": tenant})
    sampling = Sampling(client)
    sampling.fail("send_email", "acme", minute)
    sampling.sample(minute)

    queues = client.get("/stats/queues").json()
    assert queues == {"samples": [
        {"minute": queues["samples"][0]["minute"], "queue": "default", "pending": 2,
         "running": 0, "oldest_pending_age_sec": queues["samples"][0]["oldest_pending_age_sec"]},
    ]}
    sample = queues["samples"][0]
    assert datetime.fromisoformat(sample["minute"]) == iso(minute)
    assert 0 <= sample["oldest_pending_age_sec"] < 60

    [bucket] = client.get("/stats/latency").json()["buckets"]
    assert bucket == {"minute": sample["minute"], "jobs": 1, "wait_p50": 2.0, "wait_p95": 2.0,
                      "wait_p99": 2.0, "run_p50": 3.0, "run_p95": 3.0, "run_p99": 3.0}
    assert client.get("/stats/failures").json() == {"buckets": [
        {"minute": sample["minute"], "task": "send_email", "failures": 1}]}

    # The window is the last `minutes` ended minutes; it is bounded.
    assert client.get("/stats/queues", params={"minutes": 1}).json() == {"samples": []}
    assert client.get("/stats/latency", params={"minutes": 1440}).status_code == 200
    for path in ("/stats/queues", "/stats/latency", "/stats/failures"):
        for minutes in (0, 1441, "x"):
            answer = client.get(path, params={"minutes": minutes})
            assert answer.status_code == 400, (path, minutes, answer.text)

    # Kept by the store: another API process (a reload, a restart) shows the same.
    again = make_client()
    assert again.get("/stats/queues").json() == queues
    assert again.get("/stats/failures").json()["buckets"][0]["failures"] == 1


def test_a_tenants_key_sees_its_own_figures_and_an_admin_everyones(
    make_client: AppFactory,
) -> None:
    client = make_client(api_key=ADMIN_KEY)
    admin = {"X-API-Key": ADMIN_KEY}
    acme = client.post("/keys", json={"tenant": "acme"}, headers=admin).json()["key"]
    minute = charts.minute_start(time.time()) - 120
    sampling = Sampling(client)
    sampling.fail("send_email", "acme", minute)
    sampling.fail("send_email", "globex", minute)
    sampling.fail("bill", "globex", minute)
    client.post("/jobs", json={"text": "a"}, headers=admin | {"X-Tenant-Id": "acme"})
    for _ in range(3):
        client.post("/jobs", json={"text": "g"}, headers=admin | {"X-Tenant-Id": "globex"})
    sampling.sample(minute)

    def figures(key: str) -> tuple[Any, ...]:
        headers = {"X-API-Key": key}
        queues = client.get("/stats/queues", headers=headers).json()["samples"]
        [latency] = client.get("/stats/latency", headers=headers).json()["buckets"]
        failures = client.get("/stats/failures", headers=headers).json()["buckets"]
        return ([(q["queue"], q["pending"]) for q in queues], latency["jobs"],
                [(f["task"], f["failures"]) for f in failures])

    assert figures(ADMIN_KEY) == ([("default", 4)], 3, [("bill", 1), ("send_email", 2)])
    assert figures(acme) == ([("default", 1)], 1, [("send_email", 1)])
