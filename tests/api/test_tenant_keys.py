"""API keys and tenant isolation, on both stores.

- Authentication comes first: without a valid key, every protected route answers 401,
  whatever the body or parameters hold; the public ones answer without a key.
- Keys: made by an admin (shown once), listed without their secret, revoked.
- Isolation: a tenant's key sees and touches only its tenant. One probe per route of the
  app, in a table checked against the app's own routes, so a new route fails this test
  until someone decides what another tenant's key may do with it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from conveyor.api.auth import CACHE_SEC, PUBLIC_PATHS
from tests.api.conftest import AppFactory

ADMIN_KEY = "admin-secret"


@dataclass
class World:
    client: TestClient
    acme: str  # acme's tenant key
    reader: str  # acme's readonly key
    globex: str  # globex's tenant key
    globex_job: str  # a pending job of globex
    globex_failed: str  # a failed job of globex
    acme_job: str

    def as_(self, key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"X-API-Key": key} | (extra or {})


def _key(client: TestClient, **body: object) -> str:
    response = client.post("/keys", json=body, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    assert made["key"].startswith(f"cvk_{made['id']}_")
    return str(made["key"])


@pytest.fixture
def world(make_client: AppFactory) -> World:
    client = make_client(api_key=ADMIN_KEY, max_retries=0)
    acme = _key(client, tenant="acme", name="acme-app")
    reader = _key(client, tenant="acme", role="readonly")
    globex = _key(client, tenant="globex")
    admin = {"X-API-Key": ADMIN_KEY}
    acme_job = client.post("/jobs", json={"text": "a"}, headers={"X-API-Key": acme}).json()
    globex_job = client.post("/jobs", json={"text": "g"}, headers={"X-API-Key": globex}).json()
    failed = client.post("/jobs", json={"task": "nope", "payload": {}},
                         headers={"X-API-Key": globex}).json()
    store: Any = client.app.state.store  # type: ignore[attr-defined]
    portal: Any = client.portal  # type: ignore[attr-defined]
    # Fail globex's job in the store, as a worker would (no worker runs in this app).
    from conveyor.models import Fail

    [lease] = [held for held in portal.call(store.lease, "w", ["default"], 10, 60.0)
               if str(held.job_id) == failed["id"]] or [None]
    if lease is not None:
        portal.call(store.finish, [Fail(lease, "boom", permanent=True)], "w")
    client.post("/schedules", headers=admin | {"X-Tenant-Id": "globex"},
                json={"name": "globex-beat", "task": "t", "interval_sec": 3600})
    assert acme_job["tenant"] == "acme" and globex_job["tenant"] == "globex"
    return World(client, acme, reader, globex, globex_job["id"], failed["id"],
                 acme_job["id"])


def test_authentication_comes_before_validation(make_client: AppFactory) -> None:
    client = make_client(api_key=ADMIN_KEY)
    bad = {"content-type": "application/json"}
    for method, path, body in [("POST", "/jobs", b"{not json"), ("POST", "/jobs", b"[1]"),
                               ("POST", "/schedules", b"\xff"), ("GET", "/jobs?limit=0", None),
                               ("GET", "/jobs/not-a-uuid", None), ("POST", "/keys", b"{}"),
                               ("POST", "/dlq/redrive", b'{"limit": -1}')]:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "cvk_000000000000_" + "x" * 43}):
            response = client.request(method, path, content=body, headers=bad | headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
    for path in sorted(PUBLIC_PATHS - {"/docs/oauth2-redirect"}):
        assert client.get(path).status_code == 200, path
    assert client.options("/jobs").status_code == 204  # CORS preflights carry no key


def test_keys_are_shown_once_listed_without_secrets_and_revoked(world: World) -> None:
    admin = world.as_(ADMIN_KEY)
    listed = world.client.get("/keys", headers=admin).json()["keys"]
    assert {(k["role"], k["tenant"]) for k in listed} == {
        ("tenant", "acme"), ("readonly", "acme"), ("tenant", "globex")}
    assert all("key" not in k and "hash" not in k for k in listed)
    assert world.client.get("/jobs", headers=world.as_(world.acme)).status_code == 200
    acme_id = world.acme.split("_")[1]
    revoked = world.client.delete(f"/keys/{acme_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    deadline = time.monotonic() + CACHE_SEC + 5
    while world.client.get("/jobs", headers=world.as_(world.acme)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key still works"
        time.sleep(0.1)
    assert world.client.delete("/keys/0123456789ab", headers=admin).status_code == 404
    for body in ({"role": "tenant"}, {"role": "admin", "tenant": "acme"}, {"role": "root"}):
        assert world.client.post("/keys", json=body, headers=admin).status_code == 422


def test_a_tenant_key_acts_for_its_tenant(world: World) -> None:
    acme = world.as_(world.acme)
    made = world.client.post("/jobs", json={"text": "x"}, headers=acme).json()
    assert made["tenant"] == "acme"
    same = world.client.post("/jobs", json={"text": "x"}, headers=acme | {"X-Tenant-Id": "acme"})
    assert same.status_code == 201
    listed = world.client.get("/jobs?limit=100", headers=acme).json()
    assert {j["tenant"] for j in listed["jobs"]} == {"acme"} and listed["total"] == 3
    reader = world.as_(world.reader)
    assert world.client.get(f"/jobs/{world.acme_job}", headers=reader).status_code == 200
    assert world.client.post("/jobs", json={"text": "x"}, headers=reader).status_code == 403
    assert world.client.post(f"/jobs/{world.acme_job}/cancel",
                             headers=reader).status_code == 403
    everything = world.client.get("/jobs?limit=100", headers=world.as_(ADMIN_KEY)).json()
    assert {j["tenant"] for j in everything["jobs"]} == {"acme", "globex"}


@dataclass
class Probe:
    """What acme's key gets from a route about globex's data: a refusal (`status`), or a
    2xx whose body must not mention globex (`clean`)."""

    method: str
    path: str
    status: int | None = None
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def probes(w: World) -> dict[str, list[Probe]]:
    unknown = str(uuid.uuid4())
    other = {"X-Tenant-Id": "globex"}
    return {
        "GET /ready": [Probe("GET", "/ready")],
        "GET /whoami": [Probe("GET", "/whoami")],
        "GET /metrics": [Probe("GET", "/metrics"),
                         Probe("GET", "/metrics", 403, params={"format": "prometheus"})],
        "GET /stats/throughput": [Probe("GET", "/stats/throughput")],
        "GET /stats/queues": [Probe("GET", "/stats/queues", params={"minutes": 1440})],
        "GET /stats/latency": [Probe("GET", "/stats/latency", params={"minutes": 1440})],
        "GET /stats/failures": [Probe("GET", "/stats/failures", params={"minutes": 1440})],
        "GET /workers": [Probe("GET", "/workers")],
        "POST /jobs": [Probe("POST", "/jobs", 403, json={"text": "x"}, headers=other)],
        "POST /jobs/batch": [Probe("POST", "/jobs/batch", 403, json={"jobs": [{"text": "x"}]},
                                   headers=other)],
        "GET /jobs": [Probe("GET", "/jobs", 403, params={"tenant": "globex"}),
                      Probe("GET", "/jobs", params={"limit": 100}),
                      Probe("GET", "/jobs", params={"id_prefix": w.globex_job[:8]})],
        "GET /jobs/{job_id}": [Probe("GET", f"/jobs/{w.globex_job}", 404),
                               Probe("GET", f"/jobs/{unknown}", 404)],
        "POST /jobs/{job_id}/cancel": [Probe("POST", f"/jobs/{w.globex_job}/cancel", 404)],
        "POST /jobs/cancel": [Probe("POST", "/jobs/cancel", 403, json={"tenant": "globex"}),
                              Probe("POST", "/jobs/cancel", json={
                                  "ids": [w.globex_job], "dry_run": True})],
        "POST /jobs/{job_id}/retry": [Probe("POST", f"/jobs/{w.globex_failed}/retry", 404)],
        "GET /dlq": [Probe("GET", "/dlq", params={"limit": 100})],
        "POST /dlq/redrive": [Probe("POST", "/dlq/redrive", 403, json={"tenant": "globex"}),
                              Probe("POST", "/dlq/redrive", json={"dry_run": True})],
        "GET /queues": [Probe("GET", "/queues")],
        "POST /queues/{name}/pause": [Probe("POST", "/queues/default/pause", 403)],
        "POST /queues/{name}/resume": [Probe("POST", "/queues/default/resume", 403)],
        "GET /retention": [Probe("GET", "/retention")],
        "GET /schedules": [Probe("GET", "/schedules")],
        "POST /schedules": [Probe("POST", "/schedules", 403, json={
            "name": "mine", "task": "t", "interval_sec": 60, "tenant": "globex"})],
        "GET /schedules/{name}": [Probe("GET", "/schedules/globex-beat", 404)],
        "PATCH /schedules/{name}": [Probe("PATCH", "/schedules/globex-beat", 404,
                                          json={"enabled": False})],
        "DELETE /schedules/{name}": [Probe("DELETE", "/schedules/globex-beat", 404)],
        "POST /keys": [Probe("POST", "/keys", 403, json={"tenant": "globex"})],
        "GET /keys": [Probe("GET", "/keys", 403)],
        "DELETE /keys/{key_id}": [Probe("DELETE", f"/keys/{w.globex.split('_')[1]}", 403)],
        "GET /tenants": [Probe("GET", "/tenants", 403)],
        "GET /tenants/{name}": [Probe("GET", "/tenants/globex", 403)],
        "PUT /tenants/{name}": [Probe("PUT", "/tenants/globex", 403, json={})],
    }


def _routes(client: TestClient) -> set[str]:
    found = set()
    for context in iter_route_contexts(client.app.router.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if (isinstance(route, APIRoute) and context.path not in PUBLIC_PATHS
                and context.path not in ("/", "/{path:path}")):
            found.update(f"{method} {context.path}" for method in context.methods or ())
    return found


def test_another_tenants_key_gets_nothing_from_any_route(world: World) -> None:
    table = probes(world)
    routes = _routes(world.client)
    missing = sorted(routes - set(table))
    assert not missing, f"routes without a cross-tenant probe (add them to probes): {missing}"
    acme = world.as_(world.acme)
    for label in sorted(routes):
        for probe in table[label]:
            response = world.client.request(probe.method, probe.path, params=probe.params,
                                            json=probe.json, headers=acme | probe.headers)
            where = f"{label} {probe}"
            if probe.status is not None:
                assert response.status_code == probe.status, (where, response.text)
                continue
            assert response.status_code < 300, (where, response.text)
            assert "globex" not in response.text, (where, response.text)
    # The figures a tenant's key sees are its own tenant's.
    mine = world.client.get("/metrics", headers=acme).json()
    assert (mine["pending"] + mine["running"], mine["failed"], mine["jobs_submitted"]) == (1, 0, 1)
    assert world.client.get("/whoami", headers=acme).json() == {
        "role": "tenant", "tenant": "acme", "key_id": world.acme.split("_")[1], "auth": True}
    assert world.client.get("/stats/throughput", headers=acme).json()["buckets"] == []
    everyone = world.client.get("/stats/throughput", headers=world.as_(ADMIN_KEY)).json()
    assert sum(bucket["failed"] for bucket in everyone["buckets"]) == 1  # globex's, not acme's
    queues = world.client.get("/queues", headers=acme).json()["queues"]
    assert [(q["name"], q["pending"] + q["running"]) for q in queues] == [("default", 1)]
    # Another tenant's job is a 404 exactly like a job that does not exist.
    theirs = world.client.get(f"/jobs/{world.globex_job}", headers=acme).json()
    nobodys = world.client.get(f"/jobs/{uuid.uuid4()}", headers=acme).json()
    assert theirs["error"]["code"] == nobodys["error"]["code"] == "not_found"
    assert theirs["error"]["message"] == nobodys["error"]["message"]


def test_the_event_stream_carries_only_the_keys_tenant(world: World) -> None:
    acme = world.as_(world.acme)
    with world.client.websocket_connect(f"/ws?since=0&api_key={world.acme}") as socket:
        hello = socket.receive_json()
        assert hello["type"] == "hello"
        world.client.post("/jobs", json={"text": "g2"}, headers=world.as_(world.globex))
        world.client.post("/jobs", json={"text": "a2"}, headers=acme)
        seen: list[dict[str, Any]] = []
        while not any(m.get("tenant") == "acme" and m.get("seq", 0) > hello["seq"]
                      for m in seen):
            seen.append(socket.receive_json())
    assert {m["tenant"] for m in seen if "tenant" in m} == {"acme"}


def test_bulk_actions_stay_in_the_keys_tenant_and_name_it(world: World) -> None:
    acme, admin = world.as_(world.acme), world.as_(ADMIN_KEY)
    chosen = {"ids": [world.globex_job, world.acme_job], "dry_run": True}
    assert world.client.post("/jobs/cancel", json=chosen, headers=acme).json()["matched"] == 1
    assert world.client.post("/jobs/cancel", json=chosen, headers=admin).json()["matched"] == 2
    assert world.client.post("/jobs/cancel", json={},
                             headers=world.as_(world.reader)).status_code == 403
    done = world.client.post("/jobs/cancel", json={"ids": chosen["ids"]}, headers=acme).json()
    assert (done["matched"], done["cancelled"] + done["cancel_requested"]) == (1, 1)
    globex = world.client.get(f"/jobs/{world.globex_job}", headers=admin).json()
    assert globex["cancel_requested_at"] is None and globex["status"] != "cancelled"
    history = world.client.get(f"/jobs/{world.acme_job}", params={"history": "true"},
                               headers=admin).json()["events"]
    assert history[-1]["data"]["actor"] == f"key:{world.acme.split('_')[1]}"
    for key, seen in ((acme, 0), (admin, 1)):  # the admin's key finds what acme's may not
        failed = world.client.get("/dlq", params={"id_prefix": world.globex_failed[:13]},
                                  headers=key).json()
        assert (len(failed["jobs"]), failed["total"]) == (seen, seen)
        redrive = world.client.post("/dlq/redrive", json={"ids": [world.globex_failed],
                                                           "dry_run": True}, headers=key)
        assert redrive.json()["matched"] == seen
