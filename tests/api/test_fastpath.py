"""`conveyor.api.fastpath` answers `POST /jobs` exactly as the route does, on both stores:
the same status, headers and body for every request, whether the fast path answers it
itself (valid submissions, replays, store refusals) or hands it to the app (everything else).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.api.fastpath import SubmitFastPath
from tests.api.conftest import AppFactory

KEY = "k3y"
OK = {"X-API-Key": KEY}
JSON = {"content-type": "application/json"}

# (headers, body); each is sent with X-Trace-Id, so generated trace ids do not differ.
ANSWERED: list[tuple[dict[str, str], bytes]] = [
    (OK | JSON, b'{"task":"text","payload":{"text":"hi"}}'),
    (OK | JSON, b'{"text":"Hello"}'),
    (OK | JSON, b'{"payload":{"text":"hi","fail":true,"dropped":1},"priority":5,"queue":"q1"}'),
    (OK | JSON, b'{"task":"custom.task","payload":{"a":[1,2.5,null,{"b":"\\u00e9"}]},'
                b'"max_retries":0,"delay_sec":1}'),
    (OK | {"content-type": "application/json; charset=utf-8"}, b'{"text":"charset"}'),
    (OK | {"content-type": "application/vnd.api+json"}, b'{"text":"plus json"}'),
    (OK | JSON | {"X-Tenant-Id": "acme"}, b'{"text":"tenant"}'),
    (OK | JSON | {"X-Tenant-Id": ""}, b'{"text":"empty tenant"}'),
    (OK | JSON | {"X-Tenant-Id": "keyed", "Idempotency-Key": "key-1"}, b'{"text":"keyed"}'),
    (OK | JSON | {"X-Tenant-Id": "keyed", "Idempotency-Key": "key-1"},
     b'{"text":"keyed"}'),  # a replay: 200
    (OK | JSON | {"X-Tenant-Id": "keyed", "Idempotency-Key": "key-1"},
     b'{"text":"other"}'),  # a conflict: 409
    (OK | JSON, b'{"text":"a","payload":{}}'),  # 422 from the submission rules
    (OK | JSON, b'{"text":"x","task":"other"}'),
    (OK | JSON, b'{"payload":{"text":5}}'),  # the text task's payload model refuses
    (OK | JSON, b'{"task":"t","payload":{"a":"\\u0000"}}'),  # the store's payload limits
    (OK | JSON, b'{"task":"t","payload":{"a":NaN}}'),
    (OK | JSON | {"X-Tenant-Id": "uniq"}, b'{"text":"u","unique_key":"u-1"}'),
    (OK | JSON | {"X-Tenant-Id": "uniq"},
     b'{"text":"v","unique_key":"u-1","unique_while":"active"}'),  # a unique hit: 200
    (OK | JSON, b'{"text":"w","unique_fields":["text"],"unique_while":"active"}'),
    (OK | JSON, b'{"text":"w","unique_key":"a","unique_fields":["text"]}'),  # 422
    (OK | JSON, b'{"text":"w","unique_fields":["nope"]}'),  # 422: not in the payload
    (OK | JSON | {"X-Tenant-Id": "limited"}, b'{"text":"1"}'),
    (OK | JSON | {"X-Tenant-Id": "limited"}, b'{"text":"2"}'),  # 429 with Retry-After
]
REFUSED_FIRST: list[tuple[dict[str, str], bytes]] = [
    (JSON, b'{"text":"no key"}'),
    ({"X-API-Key": "wrong"} | JSON, b'{"text":"wrong key"}'),
]
"""Refused by authentication, before the fast path (or any route) sees them."""
HANDED_ON: list[tuple[dict[str, str], bytes]] = [
    (OK, b'{"text":"no content type"}'),
    (OK | {"content-type": "text/plain"}, b'{"text":"not json"}'),
    (OK | JSON, b""),
    (OK | JSON, b"{not json"),
    (OK | JSON, b"\xff\xfe"),
    (OK | JSON, b'["a list"]'),
    (OK | JSON, b'5'),
    (OK | JSON, b'{"text":5}'),
    (OK | JSON, b'{"unknown":1}'),
    (OK | JSON, b'{"priority":"3"}'),
    (OK | JSON, b'{"priority":true}'),
    (OK | JSON, b'{"task":"bad name!"}'),
    (OK | JSON | {"X-Tenant-Id": "bad tenant"}, b'{"text":"a"}'),
    (OK | JSON | {"X-Tenant-Id": "x" * 65}, b'{"text":"a"}'),
    (OK | JSON | {"Idempotency-Key": "k" * 256}, b'{"text":"a"}'),
    (OK | JSON, b'{"text":"a","unique_while":"later"}'),
    (OK | JSON, b'{"text":"a","unique_key":""}'),
]


def _lane(app: FastAPI) -> SubmitFastPath:
    layer: Any = app.middleware_stack
    while not isinstance(layer, SubmitFastPath):
        layer = layer.app
    return layer


def _normalized(response: Any) -> tuple[int, list[tuple[str, str]], Any]:
    headers = [(k, v) for k, v in response.headers.items() if k not in ("date", "content-length")]
    body = response.json()
    if isinstance(body, dict) and "id" in body:
        for key in ("id", "run_at", "created_at"):
            body[key] = key
    return response.status_code, headers, body


def _send_all(client: TestClient, cases: list[tuple[dict[str, str], bytes]]) -> list[Any]:
    return [_normalized(client.post("/jobs", content=body, headers=headers | {
        "X-Trace-Id": f"trace-{i}"})) for i, (headers, body) in enumerate(cases)]


@pytest.fixture
def second_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another fresh database of the same driver."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/second.db"
    else:
        from tests.pgsupport import fresh_postgres_database

        with fresh_postgres_database() as url:
            yield url


Pair = tuple[TestClient, TestClient, list[str]]


@pytest.fixture
def pair(make_client: AppFactory, second_database_url: str) -> Pair:
    """An app, the same app without the fast path (on a database of its own), and the
    requests the fast path handed on to the rest of the app."""
    settings: dict[str, Any] = {"api_key": KEY, "rate_limit_per_minute": 1}
    fast = make_client(**settings)
    slow = make_client(**settings, database_url=second_database_url)
    slow_app: Any = slow.app
    slow_app.user_middleware = [m for m in slow_app.user_middleware
                                if m.cls is not SubmitFastPath]
    slow_app.middleware_stack = slow_app.build_middleware_stack()
    fast.get("/health")  # builds the middleware stack
    lane = _lane(fast.app)  # type: ignore[arg-type]
    handed: list[str] = []
    inner: ASGIApp = lane.app

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/jobs":
            handed.append(scope["method"])
        await inner(scope, receive, send)

    lane.app = spy
    return fast, slow, handed


@pytest.mark.parametrize(("cases", "answered"), [(ANSWERED, True), (HANDED_ON, False)],
                         ids=["answered", "handed-on"])
def test_fast_path_answers_as_the_route(pair: Pair, answered: bool,
                                        cases: list[tuple[dict[str, str], bytes]]) -> None:
    fast, slow, handed = pair
    # One job per tenant per minute: each request has its own tenant unless it names one.
    cases = [({"X-Tenant-Id": f"t{i}"} | headers, body) for i, (headers, body) in
             enumerate(cases)]
    responses = _send_all(fast, cases)
    assert responses == _send_all(slow, cases)
    assert len(handed) == (0 if answered else len(cases))
    if answered:
        assert {status for status, _, _ in responses} == {200, 201, 409, 422, 429}
    assert fast.get("/jobs", headers=OK).json()["total"] == \
        slow.get("/jobs", headers=OK).json()["total"]


def test_requests_without_a_valid_key_never_reach_the_fast_path(pair: Pair) -> None:
    fast, slow, handed = pair
    responses = _send_all(fast, REFUSED_FIRST)
    assert responses == _send_all(slow, REFUSED_FIRST)
    assert {status for status, _, _ in responses} == {401} and handed == []


def test_fast_path_hands_on_a_streamed_body_over_the_cap(pair: Pair) -> None:
    fast, slow, handed = pair

    def post(client: TestClient) -> Any:
        chunks = iter([b'{"text":"', b"x" * 70_000, b'"}'])  # no Content-Length
        return _normalized(client.post("/jobs", content=chunks, headers=OK | JSON | {
            "X-Trace-Id": "big"}))

    response = post(fast)
    assert response == post(slow) and response[0] == 413 and handed == ["POST"]


def test_fast_path_job_is_the_stored_job(make_client: AppFactory) -> None:
    client = make_client()
    created = client.post("/jobs", content=b'{"payload":{"text":"hi","x":1}}', headers=JSON)
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert created.headers["x-trace-id"] and created.headers["x-frame-options"] == "DENY"
    job = created.json()
    assert job["payload"] == {"text": "hi"} and job["events"] is None
    stored = client.get(f"/jobs/{job['id']}").json()
    assert json.dumps(stored, sort_keys=True) == json.dumps(
        {k: v for k, v in job.items() if k not in ("events", "unique_hit")}, sort_keys=True)
