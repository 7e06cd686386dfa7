"""Payload limits (`conveyor.payloads`): what one store cannot hold is refused by both, with a
422 before anything is written, on every way in; and a row stored before the limits existed
never breaks a read. Includes a property-based round trip over random JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.payloads import MAX_DEPTH, UNREADABLE_KEY
from tests.api.conftest import AppFactory, wait_for_status
from tests.store.sql import overwrite_payload_sync


def nested(levels: int) -> Any:
    """An object `levels` deep counting the payload itself: {"a": [[…[1]…]]}."""
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return {"a": value}


def raw_post(client: TestClient, path: str, body: str, **headers: str) -> Any:
    """POST exact JSON text (NaN and friends cannot be built with `json=`)."""
    return client.post(path, content=body.encode(),
                       headers={"Content-Type": "application/json", **headers})


def stored_counts(client: TestClient) -> tuple[int, int]:
    metrics = client.get("/metrics").json()
    return client.get("/jobs").json()["total"], metrics["jobs_submitted"]


BAD_PAYLOADS = {
    "too deep": json.dumps({"task": "x", "payload": nested(256)}),
    "one level too deep": json.dumps({"task": "x", "payload": nested(MAX_DEPTH + 1)}),
    "NUL in a value": '{"task": "x", "payload": {"text": "a\\u0000b"}}',
    "NUL in a key": '{"task": "x", "payload": {"a\\u0000": 1}}',
    "NUL in text": '{"text": "a\\u0000b"}',
    "NaN": '{"task": "x", "payload": {"n": NaN}}',
    "Infinity": '{"task": "x", "payload": {"n": [Infinity]}}',
    "-Infinity": '{"task": "x", "payload": {"n": -Infinity}}',
    "overflowing number": '{"task": "x", "payload": {"n": 1e400}}',
    "lone surrogate": '{"task": "x", "payload": {"s": "\\ud800"}}',
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_unstorable_payloads_get_422_and_write_nothing(client: TestClient, case: str) -> None:
    before = stored_counts(client)
    single = raw_post(client, "/jobs", BAD_PAYLOADS[case])
    assert single.status_code == 422, single.text
    error = single.json()["error"]
    assert error["code"] == "invalid_payload" and error["message"].startswith("payload")
    batch = raw_post(client, "/jobs/batch",
                     f'{{"jobs": [{{"text": "fine"}}, {BAD_PAYLOADS[case]}]}}')
    assert batch.status_code == 422, batch.text
    key = "k-" + case.replace(" ", "-")
    keyed = raw_post(client, "/jobs", BAD_PAYLOADS[case], **{"Idempotency-Key": key})
    assert keyed.status_code == 422
    assert stored_counts(client) == before, "nothing was committed"
    assert client.get("/dlq").status_code == 200


def test_the_deepest_allowed_payload_round_trips(client: TestClient) -> None:
    payload = nested(MAX_DEPTH)
    created = client.post("/jobs", json={"task": "x", "payload": payload})
    assert created.status_code == 201, created.text
    assert client.get(f"/jobs/{created.json()['id']}").json()["payload"] == payload
    assert client.get("/jobs").json()["jobs"][0]["payload"] == payload


def test_rows_stored_before_the_limits_still_read(database_url: str, client: TestClient) -> None:
    """A row written by an older version (too deep for the response model) lists, fetches
    and shows a stand-in; retrying it is refused with 422 and leaves no half-made job."""
    job = client.post("/jobs", json={"task": "x", "payload": {"a": 1}}).json()
    overwrite_payload_sync(database_url, job["id"], json.dumps(nested(300)))
    fetched = client.get(f"/jobs/{job['id']}")
    assert fetched.status_code == 200
    assert UNREADABLE_KEY in fetched.json()["payload"]
    listed = client.get("/jobs")
    assert listed.status_code == 200 and listed.json()["jobs"][0]["id"] == job["id"]
    assert client.get(f"/jobs/{job['id']}", params={"history": "true"}).status_code == 200


def test_retrying_a_stored_unstorable_payload_is_refused(
    database_url: str, make_client: AppFactory
) -> None:
    client = make_client(run_worker=True)
    job = client.post("/jobs", json={"payload": {"invalid": True}}).json()  # fails at once
    wait_for_status(client, job["id"], "failed")
    overwrite_payload_sync(database_url, job["id"], json.dumps(nested(300)))
    before = stored_counts(client)
    retried = client.post(f"/jobs/{job['id']}/retry")
    assert retried.status_code == 422 and retried.json()["error"]["code"] == "invalid_payload"
    assert stored_counts(client) == before
    assert client.get(f"/jobs/{job['id']}").json()["retried_by"] is None
    assert client.get("/dlq").status_code == 200


# -- property: random JSON submitted, listed and fetched --------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["a\x00b", "\x00", "plain", ""]
)
_scalars = (st.none() | st.booleans() | st.integers() | _text
            | st.floats(allow_nan=True, allow_infinity=True))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_text, inner, max_size=4), max_leaves=20)
_payloads = st.dictionaries(_text, _json, max_size=5)


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON: numbers by value (PostgreSQL prints 1e300 as an integer)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=0) or float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def has_problem(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(has_problem(v) for v in value)
    if isinstance(value, dict):
        return any(has_problem(k) or has_problem(v) for k, v in value.items())
    return False


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=_payloads)
def test_random_json_round_trips_or_is_refused(client: TestClient, payload: Any) -> None:
    body = json.dumps({"task": "anything", "payload": payload}, ensure_ascii=False)
    response = raw_post(client, "/jobs", body)
    assert response.status_code < 500, response.text
    if has_problem(payload):
        assert response.status_code == 422, response.text
        return
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    fetched = client.get(f"/jobs/{job_id}")
    assert fetched.status_code == 200
    assert same_json(fetched.json()["payload"], payload)
    listed = client.get("/jobs", params={"limit": 1})
    assert listed.status_code == 200
    assert same_json(listed.json()["jobs"][0]["payload"], payload)
