"""SEED.md's API tests (health, submit, get, idempotency, list, metrics) and the error
contract, on every driver."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.api.conftest import AppFactory


def test_health_reports_uptime_and_trace_id(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["uptime"] >= 0
    assert response.headers["x-trace-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_trace_id_is_taken_from_request_or_traceparent(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Trace-Id": "abc-123"}).headers["x-trace-id"] == (
        "abc-123"
    )
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.post("/jobs", json={"text": "Hi"}, headers={"traceparent": parent})
    assert response.headers["x-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert response.json()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    bad = client.get("/health", headers={"X-Trace-Id": "bad id with spaces"})
    assert bad.headers["x-trace-id"] != "bad id with spaces"


def test_submit_and_get(client: TestClient) -> None:
    response = client.post("/jobs", json={"text": "Hello"}, headers={"X-Tenant-Id": "acme"})
    assert response.status_code == 201
    job = response.json()
    assert job["status"] == "pending" and job["payload"] == {"text": "Hello"}
    assert job["tenant"] == "acme" and job["task"] == "text" and job["attempts"] == 0
    fetched = client.get(f"/jobs/{job['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == job["id"]
    assert "events" not in fetched.json()
    history = client.get(f"/jobs/{job['id']}", params={"history": "true"}).json()["events"]
    assert [event["type"] for event in history] == ["job_created"]


def test_submit_payload_keeps_only_accepted_fields(client: TestClient) -> None:
    response = client.post("/jobs", json={"payload": {"fail": True, "__proto__": {"x": 1},
                                                      "extra": "dropped"}})
    assert response.status_code == 201
    assert response.json()["payload"] == {"fail": True}
    assert client.post("/jobs", json={}).json()["payload"] == {}


def test_custom_task_payload_is_stored_as_is(client: TestClient) -> None:
    body = {"task": "send_email", "payload": {"to": "a@example.com"}, "queue": "mail",
            "priority": 3, "max_retries": 1}
    job = client.post("/jobs", json=body).json()
    assert (job["task"], job["queue"], job["priority"], job["max_retries"]) == (
        "send_email", "mail", 3, 1)
    assert job["payload"] == {"to": "a@example.com"}


def test_idempotency_key_replays_and_conflicts(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-1"}
    first = client.post("/jobs", json={"text": "Hello"}, headers=headers)
    again = client.post("/jobs", json={"text": "Hello"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    conflict = client.post("/jobs", json={"text": "Other"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert client.get("/jobs").json()["total"] == 1


def test_concurrent_submits_with_one_key_create_one_job(client: TestClient) -> None:
    def submit(_: int) -> tuple[int, str]:
        response = client.post("/jobs", json={"text": "Hi"}, headers={"Idempotency-Key": "k"})
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(submit, range(10)))
    assert len({job_id for _, job_id in results}) == 1
    assert sorted(status for status, _ in results) == [200] * 9 + [201]
    assert client.get("/jobs").json()["total"] == 1


def test_list_filters_and_paginates(client: TestClient) -> None:
    ids = [client.post("/jobs", json={"text": f"j{i}"}).json()["id"] for i in range(5)]
    page = client.get("/jobs", params={"limit": 2, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [job["id"] for job in page["jobs"]] == [ids[3], ids[2]]
    assert client.get("/jobs", params={"status": "pending"}).json()["total"] == 5
    assert client.get("/jobs", params={"status": "done"}).json()["total"] == 0
    assert client.get("/dlq").json() == {"jobs": [], "total": 0, "limit": 20, "offset": 0,
                                         "total_exact": True, "next_cursor": None}


def test_metrics_json_and_prometheus(client: TestClient) -> None:
    client.post("/jobs", json={"text": "Hi"})
    counts = client.get("/metrics").json()
    assert counts == {"pending": 1, "running": 0, "done": 0, "failed": 0, "cancelled": 0,
                      "dlq_count": 0, "jobs_submitted": 1, "retries": 0}
    prometheus = client.get("/metrics", headers={"Accept": "text/plain;version=0.0.4"})
    assert prometheus.headers["content-type"].startswith("text/plain")
    assert 'conveyor_jobs{status="pending"} 1.0' in prometheus.text
    assert 'conveyor_jobs{status="cancelled"} 0.0' in prometheus.text
    assert "conveyor_queue_depth 1.0" in prometheus.text
    assert "conveyor_job_queue_wait_seconds_bucket" in prometheus.text


def test_bad_input_gets_clear_4xx_json(client: TestClient) -> None:
    cases = [
        (client.get("/jobs", params={"status": "bogus"}), 400),
        (client.get("/jobs", params={"limit": 0}), 400),
        (client.get("/jobs", params={"limit": "ten"}), 400),
        (client.get("/jobs", params={"offset": -1}), 400),
        (client.get("/jobs/not-a-uuid"), 400),
        (client.get(f"/jobs/{uuid.uuid4()}"), 404),
        (client.post(f"/jobs/{uuid.uuid4()}/retry"), 404),
        (client.post("/jobs", content=b"{not json", headers={"content-type": "application/json"}),
         422),
        (client.post("/jobs", json=["a list"]), 422),
        (client.post("/jobs", json={"text": 5}), 422),
        (client.post("/jobs", json={"payload": {"text": 5}}), 422),
        (client.post("/jobs", json={"text": "a", "payload": {}}), 422),
        (client.post("/jobs", json={"unknown": 1}), 422),
        (client.post("/jobs", json={"task": "bad name!"}), 422),
        (client.post("/jobs", json={"text": "a"}, headers={"X-Tenant-Id": "bad tenant"}), 400),
        (client.post("/jobs", json={"text": "a"}, headers={"X-Tenant-Id": "x" * 65}), 400),
        (client.post("/jobs", json={"text": "a"}, headers={"Idempotency-Key": "k" * 256}), 400),
        (client.post("/jobs", json={"text": "x" * 70_000}), 413),
        (client.post(f"/jobs/{uuid.uuid4()}/cancel"), 404),
        (client.post("/jobs/nope/cancel"), 400),
        (client.post("/jobs", json={"text": "a", "run_at": "2030-01-01T00:00:00+00:00",
                                    "delay_sec": 5}), 422),
        (client.post("/jobs", json={"text": "a", "run_at": "2030-01-01T00:00:00"}), 422),
        (client.post("/jobs", json={"text": "a", "run_at": 1893456000}), 422),
        (client.post("/jobs", json={"text": "a", "run_at": "soon"}), 422),
        (client.post("/jobs", json={"text": "a", "run_at": "0001-01-01T00:00:00+14:00"}), 422),
        (client.post("/jobs", json={"text": "a", "timeout_sec": 0.5}), 422),
        (client.post("/jobs", json={"text": "a", "timeout_sec": 86_401}), 422),
        (client.post("/jobs/batch", json={"jobs": [{"text": "a", "timeout_sec": "5"}]}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"] and error["trace_id"]
    assert client.get("/jobs").json()["total"] == 0  # nothing half-written


def test_rate_limit_429_with_retry_after_per_tenant(make_client: AppFactory) -> None:
    client = make_client(rate_limit_per_minute=10)
    for i in range(10):
        response = client.post("/jobs", json={"text": "Hi"},
                               headers={"X-Tenant-Id": "a", "Idempotency-Key": f"k{i}"})
        assert response.status_code == 201
    limited = client.post("/jobs", json={"text": "Hi"}, headers={"X-Tenant-Id": "a"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    replay = client.post("/jobs", json={"text": "Hi"},
                         headers={"X-Tenant-Id": "a", "Idempotency-Key": "k0"})
    assert replay.status_code == 200
    assert client.post("/jobs", json={"text": "Hi"}, headers={"X-Tenant-Id": "b"}).status_code == (
        201)


def test_api_key_required_everywhere_but_health(make_client: AppFactory) -> None:
    client = make_client(api_key="s3cret")
    assert client.get("/health").status_code == 200
    for method, path in [("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/dlq"),
                         ("GET", "/metrics"), ("GET", "/workers"), ("GET", "/ready"),
                         ("GET", "/stats/throughput"), ("GET", f"/jobs/{uuid.uuid4()}")]:
        response = client.request(method, path, json={"text": "a"} if method == "POST" else None)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
        wrong = client.request(method, path, headers={"X-API-Key": "wrong"})
        assert wrong.status_code == 401, path
    ok = client.post("/jobs", json={"text": "a"}, headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 201


def test_retry_endpoint_creates_linked_job(make_client: AppFactory) -> None:
    client = make_client(run_worker=True)
    failed = client.post("/jobs", json={"payload": {"invalid": True}}).json()
    job = _wait_for_status(client, failed["id"], "failed")
    assert job["last_error"] == "Invalid payload format (invalid=true)"
    dlq = client.get("/dlq").json()
    assert [item["id"] for item in dlq["jobs"]] == [failed["id"]]
    retried = client.post(f"/jobs/{failed['id']}/retry")
    assert retried.status_code == 201
    new = retried.json()
    assert new["retry_of"] == failed["id"] and new["payload"] == {"invalid": True}
    assert client.get(f"/jobs/{failed['id']}").json()["retried_by"] == new["id"]
    again = client.post(f"/jobs/{failed['id']}/retry")
    assert again.status_code == 409
    done = client.post("/jobs", json={"text": "Hi"}).json()
    _wait_for_status(client, done["id"], "done")
    assert client.post(f"/jobs/{done['id']}/retry").status_code == 409


def test_job_runs_to_done_with_history(make_client: AppFactory) -> None:
    client = make_client(run_worker=True)
    job = client.post("/jobs", json={"text": "Hello"}).json()
    done = _wait_for_status(client, job["id"], "done")
    assert done["result"]["length"] == 5 and done["attempts"] == 1
    events = client.get(f"/jobs/{job['id']}", params={"history": True}).json()["events"]
    assert [e["type"] for e in events] == ["job_created", "job_leased", "job_succeeded"]
    counts = client.get("/metrics").json()
    assert counts["done"] == 1 and counts["jobs_submitted"] == 1
    workers = client.get("/workers").json()["workers"]
    assert len(workers) == 1 and workers[0]["concurrency"] == 5
    buckets = client.get("/stats/throughput").json()["buckets"]
    assert sum(b["done"] for b in buckets) == 1


def test_openapi_document(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/retry", "/dlq", "/metrics",
            "/health"} <= set(spec["paths"])


def _wait_for_status(client: TestClient, job_id: str, status: str,
                     timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, object] = client.get(f"/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}, wanted {status}"
        time.sleep(0.02)


def test_histograms_observe_worker_events(make_client: AppFactory) -> None:
    client = make_client(run_worker=True)
    job = client.post("/jobs", json={"text": "Hi"}).json()
    _wait_for_status(client, job["id"], "done")
    deadline = time.monotonic() + 10
    while True:
        text = client.get("/metrics", params={"format": "prometheus"}).text
        if 'conveyor_job_run_seconds_count{outcome="succeeded"} 1.0' in text:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.02)
    assert "conveyor_job_queue_wait_seconds_count 1.0" in text


def test_batch_submit_and_its_limits(make_client: AppFactory) -> None:
    client = make_client(rate_limit_per_minute=10)
    created = client.post("/jobs/batch", json={"jobs": [{"text": "a"}, {"text": "b"}]})
    assert created.status_code == 201 and len(created.json()["jobs"]) == 2
    too_big = client.post("/jobs/batch", json={"jobs": [{"text": "a"}] * 11})
    assert too_big.status_code == 422 and "exceeds" in too_big.json()["error"]["message"]
    assert client.get("/jobs").json()["total"] == 2


def test_text_that_is_not_valid_unicode_is_refused(client: TestClient) -> None:
    body = b'{"task": "anything", "payload": {"k": "\\udfff"}}'
    response = client.post("/jobs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["x-trace-id"] == response.json()["error"]["trace_id"]


def test_run_at_timeout_and_cancel_over_http(client: TestClient) -> None:
    scheduled = client.post("/jobs", json={
        "text": "later", "run_at": "2100-01-01T09:30:00+01:00", "timeout_sec": 30})
    assert scheduled.status_code == 201, scheduled.text
    job = scheduled.json()
    assert job["run_at"].startswith("2100-01-01T08:30:00") and job["timeout_sec"] == 30
    past = client.post("/jobs", json={"text": "now", "run_at": "2001-01-01T00:00:00Z"}).json()
    assert past["run_at"] >= past["created_at"]  # a past time runs now
    cancelled = client.post(f"/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["message"].endswith("this one is cancelled")
    assert client.get("/jobs", params={"status": "cancelled"}).json()["total"] == 1
    assert client.get("/metrics").json()["cancelled"] == 1
    redo = client.post(f"/jobs/{job['id']}/retry")
    assert redo.status_code == 201 and redo.json()["retry_of"] == job["id"]
    # A keyed replay compares run_at and timeout_sec too.
    body = {"text": "k", "run_at": "2100-01-01T00:00:00Z", "timeout_sec": 5}
    first = client.post("/jobs", json=body, headers={"Idempotency-Key": "sched-1"})
    replay = client.post("/jobs", json=body, headers={"Idempotency-Key": "sched-1"})
    other = client.post("/jobs", json={**body, "timeout_sec": 6},
                        headers={"Idempotency-Key": "sched-1"})
    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 409)


def test_pause_resume_and_queue_figures_over_http(client: TestClient) -> None:
    client.post("/jobs", json={"text": "a", "queue": "mail"})
    client.post("/jobs", json={"text": "b", "queue": "mail", "delay_sec": 600})
    paused = client.post("/queues/mail/pause")
    assert paused.status_code == 200
    assert paused.json() | {"paused_at": None} == {
        "name": "mail", "paused": True, "paused_at": None, "pending": 1, "scheduled": 1,
        "running": 0, "oldest_pending_age_sec": paused.json()["oldest_pending_age_sec"],
        "done_last_minute": 0, "failed_last_minute": 0}
    assert paused.json()["paused_at"] and paused.json()["oldest_pending_age_sec"] >= 0
    names = [q["name"] for q in client.get("/queues").json()["queues"]]
    assert names == ["mail"]
    prometheus = client.get("/metrics", params={"format": "prometheus"}).text
    assert 'conveyor_queue_paused{queue="mail"} 1.0' in prometheus
    assert 'conveyor_queue_pending{queue="mail"} 1.0' in prometheus
    resumed = client.post("/queues/mail/resume").json()
    assert resumed["paused"] is False and resumed["paused_at"] is None
    assert client.post("/queues/bad name/pause").status_code == 400
