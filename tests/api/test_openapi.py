"""The OpenAPI document against the app, on every driver: every documented status of every
operation is produced by a targeted request and nothing undocumented is (neither under- nor
over-claiming), and OPTIONS and 405 name the documented methods. The schemathesis fuzz run
over the same document is tests/api/test_fuzz.py.

Operations come from the app's own document, so a new route without targeted cases fails
`test_every_documented_status_is_produced`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from conveyor.api.app import create_app
from conveyor.api.auth import PUBLIC_PATHS
from conveyor.clients import calls as client_calls
from conveyor.config import Settings
from conveyor.payloads import MAX_DEPTH
from conveyor.store.search import JobFilter
from conveyor.tasks import TaskRegistry
from conveyor.wire import SEARCH_FILTERS
from tests.api.conftest import AppFactory, wait_for_status
from tests.store.sql import overwrite_payload_sync

KEY = "s3cret"
RATE = 3  # jobs per tenant per minute: small, so 429 is one request away
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
Document = dict[str, Any]


def operations(document: Document) -> dict[str, Document]:
    """`"METHOD /path"` → operation, for every operation in the document."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method.upper() in HTTP_METHODS
    }


def test_document_declares_the_api_key_and_only_the_app_error_shape(
    make_client: AppFactory,
) -> None:
    document = make_client().get("/openapi.json").json()
    scheme = dict(document["components"]["securitySchemes"]["ApiKey"])
    assert scheme.pop("description")
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    ops = operations(document)
    assert "security" not in ops["GET /health"]
    for label, operation in ops.items():
        if label != "GET /health":
            assert operation["security"] == [{"ApiKey": []}], label
        responses = operation["responses"]
        assert "500" not in responses and "default" not in responses, label
        for status, response in responses.items():
            if int(status) >= 400 and label != "GET /ready":
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"}, (label, status)
    assert "HTTPValidationError" not in json.dumps(document)
    assert set(ops["POST /jobs"]["responses"]) == {
        "200", "201", "400", "401", "403", "409", "413", "422", "429", "503"}


# -- targeted requests for every documented status ------------------------------------------

@dataclass(frozen=True)
class Call:
    """One request meant to produce `status`."""

    status: int
    path: str
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    why: str = ""


@dataclass(frozen=True)
class Jobs:
    pending: str  # delayed, so it stays pending: a retry answers 409
    failed: str  # in the DLQ: a retry answers 201
    legacy: str  # in the DLQ with a payload from before the limits: a retry answers 422
    cancellable: str  # delayed, so it stays pending: a cancel answers 200
    running: str  # leased by a test "worker" that never finishes: a cancel answers 202
    key_id: str  # an API key's id: a revoke answers 200
    tenant_key: str = ""  # a tenant's key (its tenant: `<world>-keys`): admin routes are 403
    readonly_key: str = ""  # a read-only key of the same tenant: writes are 403


def targeted_calls(jobs: Jobs, world: str) -> dict[str, list[Call]]:
    """Per operation, requests that produce each status the handler can answer. 401 and 503
    are produced for every operation by `_world` from the first 2xx call of its list."""
    def tenant(name: str) -> dict[str, str]:
        return {"X-Tenant-Id": f"{world}-{name}"}

    big = b'{"text": "' + b"x" * 70_000 + b'"}'
    json_type = {"content-type": "application/json"}
    unknown = str(uuid.uuid4())
    return {
        "GET /health": [Call(200, "/health")],
        "GET /ready": [Call(200, "/ready")],
        "GET /metrics": [
            Call(200, "/metrics"),
            Call(200, "/metrics", headers={"Accept": "text/plain;version=0.0.4"}),
            Call(200, "/metrics", params={"format": "prometheus"}),
            Call(400, "/metrics", params={"format": "xml"}),
        ],
        "GET /stats/throughput": [
            Call(200, "/stats/throughput", params={"minutes": 5}),
            Call(400, "/stats/throughput", params={"minutes": 0}),
        ],
        "GET /stats/queues": [
            Call(200, "/stats/queues", params={"minutes": 5}),
            Call(400, "/stats/queues", params={"minutes": 1441}),
        ],
        "GET /stats/latency": [
            Call(200, "/stats/latency"),
            Call(400, "/stats/latency", params={"minutes": 0}),
        ],
        "GET /stats/failures": [
            Call(200, "/stats/failures", params={"minutes": 1440}),
            Call(400, "/stats/failures", params={"minutes": "soon"}),
        ],
        "GET /workers": [Call(200, "/workers")],
        "GET /whoami": [Call(200, "/whoami")],
        "POST /jobs": [
            Call(201, "/jobs", json={"text": "hi"}, headers=tenant("submit")),
            Call(201, "/jobs", json={"text": "hi"},
                 headers=tenant("replay") | {"Idempotency-Key": "order-1"}),
            Call(200, "/jobs", json={"text": "hi"},
                 headers=tenant("replay") | {"Idempotency-Key": "order-1"}, why="replay"),
            Call(409, "/jobs", json={"text": "other"},
                 headers=tenant("replay") | {"Idempotency-Key": "order-1"}),
            Call(201, "/jobs", json={"text": "hi", "unique_key": "u-1", "delay_sec": 3600},
                 headers=tenant("unique"), why="delayed: it holds its key while pending"),
            Call(200, "/jobs", json={"text": "other", "unique_key": "u-1"},
                 headers=tenant("unique"), why="unique hit"),
            Call(400, "/jobs", json={"text": "hi"}, headers={"X-Tenant-Id": "bad tenant"}),
            Call(400, "/jobs", json={"text": "hi"}, headers={"Idempotency-Key": "k" * 256}),
            Call(413, "/jobs", content=big, headers=json_type),
            Call(422, "/jobs", json={"text": 5}),
            Call(422, "/jobs", content=b"{not json", headers=json_type),
            *[Call(201, "/jobs", json={"text": "hi"}, headers=tenant("burst"))
              for _ in range(RATE)],
            Call(429, "/jobs", json={"text": "hi"}, headers=tenant("burst")),
        ],
        "POST /jobs/batch": [
            Call(201, "/jobs/batch", json={"jobs": [{"text": "a"}]}, headers=tenant("batch")),
            Call(201, "/jobs/batch", json={"jobs": [{"text": "a"}]},
                 headers=tenant("batch-key") | {"Idempotency-Key": "b-1"}),
            Call(409, "/jobs/batch", json={"jobs": [{"text": "b"}]},
                 headers=tenant("batch-key") | {"Idempotency-Key": "b-1"}),
            Call(400, "/jobs/batch", json={"jobs": [{"text": "a"}]},
                 headers={"X-Tenant-Id": "bad tenant"}),
            Call(413, "/jobs/batch", content=big, headers=json_type),
            Call(422, "/jobs/batch", json={"jobs": []}),
            Call(422, "/jobs/batch", json={"jobs": [{"text": "a"}] * (RATE + 1)},
                 why="larger than the rate limit: could never pass"),
            Call(201, "/jobs/batch", json={"jobs": [{"text": "a"}] * 2},
                 headers=tenant("batch-burst")),
            Call(429, "/jobs/batch", json={"jobs": [{"text": "a"}] * 2},
                 headers=tenant("batch-burst")),
        ],
        "GET /jobs": [
            Call(200, "/jobs", params={"status": "pending", "limit": 5}),
            Call(200, "/jobs", params={"task": "text", "error": "x", "payload": "hi",
                                       "id_prefix": "01", "cursor": jobs.pending,
                                       "created_after": "2020-01-01T00:00:00Z"}),
            Call(400, "/jobs", params={"limit": 0}),
            Call(400, "/jobs", params={"status": "bogus"}),
            Call(400, "/jobs", params={"id_prefix": "0" * 33}),
            Call(422, "/jobs", params={"error": "a\x00b"}, why="NUL in a search"),
            Call(400, "/jobs", params={"created_after": "2020-01-01T00:00:00"},
                 why="no offset"),
        ],
        "GET /jobs/{job_id}": [
            Call(200, f"/jobs/{jobs.pending}", params={"history": "true"}),
            Call(400, "/jobs/not-a-uuid"),
            Call(404, f"/jobs/{unknown}"),
        ],
        "POST /jobs/{job_id}/retry": [
            Call(201, f"/jobs/{jobs.failed}/retry"),
            Call(409, f"/jobs/{jobs.pending}/retry", why="a pending job cannot be retried"),
            Call(409, f"/jobs/{jobs.failed}/retry", why="already retried"),
            Call(422, f"/jobs/{jobs.legacy}/retry", why="stored payload beyond the limits"),
            Call(400, "/jobs/not-a-uuid/retry"),
            Call(404, f"/jobs/{unknown}/retry"),
        ],
        "POST /jobs/{job_id}/cancel": [
            Call(200, f"/jobs/{jobs.cancellable}/cancel"),
            Call(202, f"/jobs/{jobs.running}/cancel", why="running: asked to stop"),
            Call(409, f"/jobs/{jobs.cancellable}/cancel", why="cancelled already"),
            Call(400, "/jobs/not-a-uuid/cancel"),
            Call(404, f"/jobs/{unknown}/cancel"),
        ],
        "GET /queues": [Call(200, "/queues")],
        "GET /retention": [Call(200, "/retention")],
        "POST /queues/{name}/pause": [
            Call(200, f"/queues/{world}-q/pause"),
            Call(200, f"/queues/{world}-q/pause", why="paused already: no change"),
            Call(400, "/queues/-not-a-name/pause"),
        ],
        "GET /tenants": [Call(200, "/tenants")],
        "GET /tenants/{name}": [
            Call(200, f"/tenants/{world}-t"),
            Call(400, "/tenants/-not-a-name"),
        ],
        "PUT /tenants/{name}": [
            Call(200, f"/tenants/{world}-t", json={"weight": 2}),
            Call(400, "/tenants/-not-a-name", json={}),
            Call(422, f"/tenants/{world}-t", json={"weight": 0}),
            Call(413, f"/tenants/{world}-t", content=big, headers=json_type),
        ],
        "POST /queues/{name}/resume": [
            Call(200, f"/queues/{world}-q/resume"),
            Call(400, "/queues/-not-a-name/resume"),
        ],
        "POST /schedules": [
            Call(201, "/schedules", json={"name": f"{world}-s", "task": "t", "cron": "@daily"}),
            Call(409, "/schedules", json={"name": f"{world}-s", "task": "t", "cron": "@daily"}),
            Call(413, "/schedules", content=big, headers=json_type),
            Call(422, "/schedules", json={"name": f"{world}-x", "task": "t", "cron": "nope"}),
            Call(400, "/schedules", json={"name": f"{world}-y", "task": "t", "cron": "@daily"},
                 headers={"X-Tenant-Id": "bad tenant"}),
            Call(422, "/schedules", content=b"{not json", headers=json_type),
        ],
        "GET /schedules": [Call(200, "/schedules")],
        "POST /keys": [
            Call(201, "/keys", json={"tenant": f"{world}-k", "name": "ci"}),
            Call(201, "/keys", json={"role": "admin"}),
            Call(413, "/keys", content=big, headers=json_type),
            Call(422, "/keys", json={"role": "tenant"}, why="a tenant key needs a tenant"),
            Call(422, "/keys", json={"role": "root", "tenant": "t"}),
            Call(422, "/keys", content=b"{not json", headers=json_type),
        ],
        "GET /keys": [Call(200, "/keys")],
        "DELETE /keys/{key_id}": [
            Call(200, f"/keys/{jobs.key_id}"),
            Call(200, f"/keys/{jobs.key_id}", why="revoked already: no change"),
            Call(400, "/keys/not-hex"),
            Call(404, "/keys/0123456789ab"),
        ],
        "GET /schedules/{name}": [
            Call(200, f"/schedules/{world}-s"),
            Call(400, "/schedules/-not-a-name"),
            Call(404, f"/schedules/{world}-missing"),
        ],
        "PATCH /schedules/{name}": [
            Call(200, f"/schedules/{world}-s", json={"enabled": False}),
            Call(400, "/schedules/-not-a-name", json={"enabled": False}),
            Call(404, f"/schedules/{world}-missing", json={"enabled": False}),
            Call(413, f"/schedules/{world}-s", content=big, headers=json_type),
            Call(422, f"/schedules/{world}-s", json={"enabled": None}),
        ],
        "DELETE /schedules/{name}": [
            Call(204, f"/schedules/{world}-s"),
            Call(400, "/schedules/-not-a-name"),
            Call(404, f"/schedules/{world}-s", why="deleted already"),
        ],
        "GET /dlq": [
            Call(200, "/dlq", params={"limit": 1}),
            Call(200, "/dlq", params={"error": "Invalid", "cursor": str(uuid.uuid4())}),
            Call(400, "/dlq", params={"offset": -1}),
            Call(422, "/dlq", params={"created_after": "0001-01-01T00:00:00+14:00"}),
        ],
        "POST /jobs/cancel": [
            Call(200, "/jobs/cancel", json={"dry_run": True}),
            Call(200, "/jobs/cancel", json={"tenant": f"{world}-nobody", "limit": 1}),
            Call(200, "/jobs/cancel", json={"ids": [unknown], "status": "pending"}),
            Call(413, "/jobs/cancel", content=big, headers=json_type),
            Call(422, "/jobs/cancel", json={"status": "done"}),
            Call(422, "/jobs/cancel", json={"id_prefix": "0" * 33}),
            Call(422, "/jobs/cancel", json={"ids": []}),
        ],
        "POST /dlq/redrive": [
            Call(200, "/dlq/redrive", json={"dry_run": True}),
            Call(200, "/dlq/redrive", json={"tenant": f"{world}-setup", "limit": 1,
                                            "rate_per_sec": 5}),
            Call(413, "/dlq/redrive", content=big, headers=json_type),
            Call(422, "/dlq/redrive", json={"limit": 0}),
            Call(422, "/dlq/redrive", json={"payload": "a\x00b"}),
            Call(422, "/dlq/redrive", json={"error": "x", "surprise": 1}),
            Call(422, "/dlq/redrive", content=b"\xff{}", headers=json_type, why="not UTF-8"),
        ],
    }


class Recorder:
    """Which statuses each operation answered, with checks that apply to every answer."""

    def __init__(self, document: Document) -> None:
        self.ops = operations(document)
        self.produced: dict[str, set[int]] = {label: set() for label in self.ops}

    def send(self, client: TestClient, label: str, call: Call,
             headers: dict[str, str] | None = None) -> int:
        method = label.split(" ", 1)[0]
        response = client.request(method, call.path, params=call.params,
                                  headers=call.headers | (headers or {}),
                                  json=call.json, content=call.content)
        status: int = response.status_code
        where = f"{label} {call.path} {call.params or ''} {call.why}"
        self.produced[label].add(response.status_code)
        documented = self.ops[label]["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{where}: answered {response.status_code}, which the document does not list: "
            f"{response.text[:300]}")
        if response.status_code == 204:  # No Content: nothing to type
            assert not response.content and not documented.get("content"), where
        else:
            media_type = response.headers["content-type"].split(";")[0].strip()
            assert media_type in documented.get("content", {}), (where, media_type)
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in response.headers, (where, name)
        if response.status_code >= 400 and label != "GET /ready":
            error = response.json()["error"]
            assert error["code"] and error["message"], where
            assert error["trace_id"] == response.headers["x-trace-id"], where
        return status


def _make_jobs(client: TestClient, world: str, headers: dict[str, str],
               database_url: str) -> Jobs:
    def submit(body: dict[str, Any], tenant: str = "setup") -> str:
        response = client.post("/jobs", json=body,
                               headers=headers | {"X-Tenant-Id": f"{world}-{tenant}"})
        assert response.status_code == 201, response.text
        job_id: str = response.json()["id"]
        return job_id

    pending = submit({"text": "later", "delay_sec": 3600})
    failed = submit({"payload": {"invalid": True}, "max_retries": 0})
    legacy = submit({"payload": {"invalid": True}, "max_retries": 0})
    for job_id in (failed, legacy):
        wait_for_status(client, job_id, "failed", headers)
    _store_payload_beyond_limits(database_url, legacy)
    cancellable = submit({"text": "later", "delay_sec": 3600}, "cancel")
    running = submit({"text": "held", "queue": f"{world}-held"}, "cancel")  # no worker serves it
    store = client.app.state.store  # type: ignore[attr-defined]
    assert client.portal is not None
    leases = client.portal.call(store.lease, "openapi-test", [f"{world}-held"], 1, 3600.0)
    assert [str(lease.job_id) for lease in leases] == [running]
    made = client.post("/keys", json={"tenant": f"{world}-keys"}, headers=headers)
    assert made.status_code == 201, made.text
    reader = client.post("/keys", json={"tenant": f"{world}-keys", "role": "readonly"},
                         headers=headers)
    assert reader.status_code == 201, reader.text
    return Jobs(pending=pending, failed=failed, legacy=legacy, cancellable=cancellable,
                running=running, key_id=made.json()["id"], tenant_key=made.json()["key"],
                readonly_key=reader.json()["key"])


def refused_calls(jobs: Jobs, world: str) -> dict[str, Call]:
    """Per operation that lists 403, a request a tenant's or a read-only key is refused
    (sent with that key alone, on the server with API_KEY)."""
    def tenant(path: str, **extra: Any) -> Call:
        return Call(403, path, headers={"X-API-Key": jobs.tenant_key}, **extra)

    def reader(path: str, **extra: Any) -> Call:
        return Call(403, path, headers={"X-API-Key": jobs.readonly_key}, **extra)

    other = {"tenant": f"{world}-other"}
    return {
        "GET /metrics": tenant("/metrics", params={"format": "prometheus"}),
        "POST /jobs": reader("/jobs", json={"text": "hi"}),
        "POST /jobs/batch": reader("/jobs/batch", json={"jobs": [{"text": "a"}]}),
        "GET /jobs": tenant("/jobs", params=other),
        "POST /jobs/cancel": reader("/jobs/cancel", json={"dry_run": True}),
        "POST /jobs/{job_id}/cancel": reader(f"/jobs/{jobs.pending}/cancel"),
        "POST /jobs/{job_id}/retry": reader(f"/jobs/{jobs.failed}/retry"),
        "GET /dlq": tenant("/dlq", params=other),
        "POST /dlq/redrive": reader("/dlq/redrive", json={"dry_run": True}),
        "POST /queues/{name}/pause": tenant("/queues/default/pause"),
        "POST /queues/{name}/resume": tenant("/queues/default/resume"),
        "POST /schedules": reader("/schedules", json={"name": "r", "task": "t",
                                                      "interval_sec": 60}),
        "PATCH /schedules/{name}": reader("/schedules/beat", json={"enabled": False}),
        "DELETE /schedules/{name}": reader("/schedules/beat"),
        "GET /keys": tenant("/keys"),
        "POST /keys": tenant("/keys", json={"tenant": "x"}),
        "DELETE /keys/{key_id}": tenant(f"/keys/{jobs.key_id}"),
        "GET /tenants": tenant("/tenants"),
        "GET /tenants/{name}": tenant("/tenants/x"),
        "PUT /tenants/{name}": tenant("/tenants/x", json={}),
    }


def _store_payload_beyond_limits(database_url: str, job_id: str) -> None:
    """What a row written before the payload limits existed looks like: nested too deep."""
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    overwrite_payload_sync(database_url, job_id, json.dumps(deep))


def _world(client: TestClient, recorder: Recorder, world: str, database_url: str, *,
           key: str | None) -> None:
    """Every targeted call (with the key when the server has one), then for each
    authenticated operation its first 2xx call without and with a wrong key: 401."""
    headers = {"X-API-Key": key} if key else {}
    jobs = _make_jobs(client, world, headers, database_url)
    if key is not None:  # first: the targeted calls revoke the tenant's key
        refused = refused_calls(jobs, world)
        listing = {label for label, op in recorder.ops.items() if "403" in op["responses"]}
        assert set(refused) == listing, (
            f"operations listing 403 without a refused call (add them to refused_calls): "
            f"{sorted(listing - set(refused))}; stale: {sorted(set(refused) - listing)}")
        for label, call in refused.items():
            status = recorder.send(client, label, call, {})
            assert status == 403, f"{label} {call} answered {status}"
    table = targeted_calls(jobs, world)
    assert set(table) == set(recorder.ops), (
        "operations without targeted cases (add them to targeted_calls): "
        f"{sorted(set(recorder.ops) - set(table))}; "
        f"stale cases: {sorted(set(table) - set(recorder.ops))}")
    for label, calls in table.items():
        for call in calls:
            status = recorder.send(client, label, call, headers)
            assert status == call.status, f"{world}: {label} {call} answered {status}"
    if key is None:
        return
    for label, calls in table.items():
        baseline = next(call for call in calls if call.status < 300)
        secured = bool(recorder.ops[label].get("security"))
        for wrong in ({}, {"X-API-Key": "wrong"}):
            status = recorder.send(client, label, baseline, wrong)
            assert (status == 401) == secured, f"{label} with {wrong or 'no key'}: {status}"


@contextlib.contextmanager
def _store_down(client: TestClient, database_url: str) -> Iterator[None]:
    """Take the running app's database away for real.

    PostgreSQL: the database stops accepting connections and every session on it is
    terminated, like a server that went down. SQLite: an open file cannot become
    unreachable (and `/ready`'s `SELECT 1` never reads it), so every statement on the
    store's connections is interrupted instead; the driver maps both to StoreUnavailable.
    """
    if database_url.startswith("sqlite"):
        store = client.app.state.store  # type: ignore[attr-defined]
        connections = [v for v in vars(store).values() if isinstance(v, sqlite3.Connection)]
        assert connections, "found no sqlite3 connection on the store to break"
        for connection in connections:
            connection.set_progress_handler(lambda: 1, 1)
        yield
        return
    import psycopg

    from tests.pgsupport import server_url

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", [name])
    yield


def _with_query(url: str, **params: object) -> str:
    extra = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def test_every_documented_status_is_produced(make_client: AppFactory, database_url: str) -> None:
    """Key off, key on, then the store down: each answer is documented for its operation,
    and each status the document lists is produced by at least one request."""
    open_client = make_client(run_worker=True, rate_limit_per_minute=RATE)
    recorder = Recorder(open_client.get("/openapi.json").json())
    _world(open_client, recorder, "open", database_url, key=None)
    open_client.__exit__(None, None, None)  # the fixture's exit later is a no-op

    keyed = make_client(run_worker=True, rate_limit_per_minute=RATE, api_key=KEY)
    _world(keyed, recorder, "keyed", database_url, key=KEY)
    keyed.__exit__(None, None, None)

    url = database_url if database_url.startswith("sqlite") else _with_query(
        database_url, pool_timeout=0.3, connect_timeout=2)
    down = make_client(database_url=url, rate_limit_per_minute=RATE)
    table = targeted_calls(Jobs(*(str(uuid.uuid4()) for _ in range(5)), key_id="0123456789ab"),
                           "down")
    with _store_down(down, database_url):
        for label, calls in table.items():
            baseline = next(call for call in calls if call.status < 300)
            status = recorder.send(down, label, baseline)
            assert status in (503, baseline.status), f"store down: {label} answered {status}"

    never = {label: sorted(set(map(int, recorder.ops[label]["responses"])) - produced)
             for label, produced in recorder.produced.items()}
    assert not {label: s for label, s in never.items() if s}, (
        f"documented but never produced: {never}")


# -- OPTIONS and 405 ------------------------------------------------------------------------

def _concrete(path: str) -> str:
    return path.replace("{job_id}", str(uuid.uuid4()))


def test_options_and_405_name_every_documented_method(make_client: AppFactory) -> None:
    client = make_client(api_key=KEY)  # OPTIONS needs no key: preflights carry none
    document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        methods = {method.upper() for method in item}
        expected = {*methods, "OPTIONS"}
        response = client.options(_concrete(path))
        assert response.status_code == 204, (path, response.text)
        assert set(response.headers["allow"].split(", ")) == expected, path
        assert response.content == b"" and response.headers["x-trace-id"]
        for method in set(HTTP_METHODS) - methods:
            other = client.request(method, _concrete(path), headers={"X-API-Key": KEY})
            assert other.status_code == 405, (method, path, other.status_code)
            if path not in PUBLIC_PATHS:  # authentication first, even for a wrong method
                assert client.request(method, _concrete(path)).status_code == 401, path
            assert set(other.headers["allow"].split(", ")) == expected, (method, path)
            if method != "HEAD":
                assert other.json()["error"]["code"] == "method_not_allowed"
    # A path that is only a prefix of another route's is its own resource, not a job id.
    assert client.get("/jobs/batch", headers={"X-API-Key": KEY}).status_code == 405


def test_options_on_unknown_paths_and_the_dashboard(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "assets" / "app-1.js").write_text("1")
    client = make_client(dashboard_dir=tmp_path)
    asset = client.options("/assets/app-1.js")
    assert (asset.status_code, asset.headers["allow"]) == (204, "GET, HEAD, OPTIONS")
    route = client.options("/some/client/route")  # the dashboard answers GET anywhere
    assert (route.status_code, route.headers["allow"]) == (204, "GET, OPTIONS")

    monkeypatch.setattr("conveyor.api.app.mount_dashboard", lambda app, settings: None)
    bare = make_client()
    missing = bare.options("/no/such/path")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def bare_document() -> Document:
    """The app's document without a store behind it (the routes and their dependencies)."""
    return create_app(Settings(), TaskRegistry([])).openapi()


def test_the_clients_search_filters_are_the_servers() -> None:
    assert set(SEARCH_FILTERS) == {f.name for f in fields(JobFilter)} - {"status", "ids"}
    document = bare_document()
    for path in ("/jobs", "/dlq"):
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert set(SEARCH_FILTERS) <= names, path
    assert client_calls.list_jobs(task="mail").params["task"] == "mail"
    with pytest.raises(TypeError, match="unknown search filter taks"):
        client_calls.list_jobs(taks="mail")
    with pytest.raises(TypeError, match="unknown search filter"):
        client_calls.dlq(eror="timeout")


def test_each_403_names_each_reason_once() -> None:
    described = [operation["responses"]["403"]["description"]
                 for item in bare_document()["paths"].values() for operation in item.values()
                 if "403" in operation.get("responses", {})]
    assert described, "some operations refuse some keys"
    for description in described:
        reasons = description.removeprefix("Not for this API key: ").rstrip(".").split("; ")
        assert len(reasons) == len(set(reasons)), description
