"""The API fuzzed from its own OpenAPI document, on both stores, with the key off and on.

schemathesis generates requests for every operation `/openapi.json` lists (valid ones, and
invalid ones where the operation takes input), so a route added to the app is fuzzed
without touching this file. Each answer must be no 5xx (the store is up for the whole run,
so not even 503), documented for its operation (status, content type, headers) with a body
that matches the documented schema; valid input must be accepted (or refused by a rule the
schema cannot say) and invalid input refused. With `API_KEY` set, each generated request is
sent three times: with the key (checked as above), without one and with a wrong one (both
refused with 401, and documented). The same run is made with a stored key of one tenant,
of role `tenant` and of role `readonly`, for which a 403 is one more documented refusal.

Then the store is checked for what no request may leave behind: a job without its
`job_created` event or whose status is not its last event's, an event without its job,
counters (and so `/metrics`) that disagree with the rows, a retry link one way only, a
stored job the API cannot read back, or a stored payload the API would refuse today.

The default run is short (`FUZZ_EXAMPLES` per operation and generation mode, a fixed seed);
`make fuzz` runs a long campaign with `CONVEYOR_FUZZ_EXAMPLES` and `CONVEYOR_FUZZ_SEED`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conveyor.api.deps import valid_idempotency_key, valid_tenant
from conveyor.api.submission import to_new_job
from conveyor.config import Settings
from conveyor.lifecycle import BY_EVENT, EventType, JobStatus, status_counter
from conveyor.lifecycle import Counter as LifecycleCounter
from conveyor.payloads import find_problem
from conveyor.runtime import build_registry
from conveyor.wire import SubmitJob
from tests.api.conftest import AppFactory

KEY = "s3cret"
WRONG_KEY = "not-the-key"
FUZZ_EXAMPLES = int(os.environ.get("CONVEYOR_FUZZ_EXAMPLES", "10"))
FUZZ_SEED = int(os.environ.get("CONVEYOR_FUZZ_SEED", "20261201"))

CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance]
"""What an answer to a request without the right key is checked for: documented, no 5xx
(the acceptance checks do not apply: the request is refused for its missing key)."""


def _config(key: str | None) -> schemathesis.Config:
    # 403: a tenant or read-only key refused an operator route, a write or another tenant.
    scoped = ["403"] if key not in (None, KEY) else []
    return schemathesis.Config.from_dict({
        "auth": {"openapi": {"ApiKey": {"api_key": key}}} if key is not None else {},
        # The key is sent by the auth above (or left out on purpose), never fuzzed as a header.
        "generation": {"with-security-parameters": False},
        "checks": {
            # Replaced by the explicit no-key and wrong-key sends below, which also check
            # that the refusal is documented.
            "ignored_auth": {"enabled": False},
            "positive_data_acceptance": {
                # 404/409: generated ids and names rarely exist; 422: rules the schema cannot
                # say (text XOR payload, payload limits, cron syntax); 429: the rate limit.
                "expected-statuses": ["2xx", "401", *scoped, "404", "409", "422", "429"]},
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", *scoped, "404", "405", "409", "413",
                                      "422", "429"]},
        },
    })


def _send(client: TestClient, case: schemathesis.Case[Any],
          key: str | None = None, strip_key: bool = False) -> tuple[Any, dict[str, Any]]:
    """Send a generated case through the test client (the app's lifespan is the fixture's);
    with `strip_key` without its `X-API-Key`, or with `key` instead."""
    kwargs = case.as_transport_kwargs()
    headers = {name: value for name, value in kwargs["headers"].items()
               if not (strip_key and name.lower() == "x-api-key")}
    if key is not None:
        headers["X-API-Key"] = key
    kwargs["headers"] = headers
    encoded = {name: value.encode("latin-1") if isinstance(value, str) else value
               for name, value in headers.items()}
    content = kwargs.get("data")
    if "json" in kwargs:
        content = json.dumps(kwargs["json"], allow_nan=False).encode()
    response = client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                              headers=encoded, content=content)
    return response, kwargs


def _describe(response: Any, kwargs: dict[str, Any]) -> str:
    return (f"{kwargs['method']} {kwargs['url']} params={kwargs.get('params')} "
            f"headers={kwargs['headers']} body={kwargs.get('json', kwargs.get('data'))!r:.300}"
            f" -> {response.status_code} {response.text[:300]}")


def _fuzz_test(client: TestClient, operation: Any, mode: GenerationMode,
               keyed: bool) -> Callable[[], None]:
    """`keyed`: also send each case without a key and with a wrong one."""
    secured = bool(operation.definition.raw.get("security"))

    @hypothesis.seed(FUZZ_SEED)
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        if keyed:
            for wrong in (None, WRONG_KEY):  # no key, then a wrong one
                refused, sent = _send(client, case, key=wrong, strip_key=True)
                case.validate_response(refused, checks=CONFORMANCE, headers=sent["headers"],
                                       transport_kwargs=sent)
                # 413 is the one answer that may come first: the body limit is enforced
                # before anything reads the request (README: "413 on any route").
                if secured:
                    assert refused.status_code in (401, 413), _describe(refused, sent)
        response, kwargs = _send(client, case)
        case.validate_response(response, headers=kwargs["headers"], transport_kwargs=kwargs)

    return run


def _fuzz(client: TestClient, key: str | None) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json(),
                                            config=_config(key))
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if operation.body or list(operation.iter_parameters()):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _fuzz_test(client, operation, mode, key == KEY)()
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{mode.value} {operation.label}:\n{exc}")
        fuzzed += 1
    assert fuzzed == len([m for item in schema.raw_schema["paths"].values() for m in item
                          if m in ("get", "post", "put", "patch", "delete")])
    assert not failures, (f"CONVEYOR_FUZZ_SEED={FUZZ_SEED} CONVEYOR_FUZZ_EXAMPLES="
                          f"{FUZZ_EXAMPLES} replays this:\n\n" + "\n\n".join(failures))


@pytest.mark.parametrize("keyed", [False, True], ids=["key-off", "key-on"])
def test_fuzz_every_operation(make_client: AppFactory, database_url: str, keyed: bool) -> None:
    client = make_client(api_key=KEY if keyed else None)
    _fuzz(client, KEY if keyed else None)
    assert_store_consistent(client, database_url, {"X-API-Key": KEY} if keyed else {})


@pytest.mark.parametrize("role", ["tenant", "readonly"])
def test_fuzz_every_operation_with_a_scoped_key(make_client: AppFactory, database_url: str,
                                                role: str) -> None:
    """The same requests with a stored key of one tenant: every answer documented (403
    included), none a 5xx, and the store whole afterwards. A few of the tenant's own jobs
    are there first, so reads, retries and cancels find something of theirs."""
    client = make_client(api_key=KEY)
    admin = {"X-API-Key": KEY}
    created = client.post("/keys", json={"tenant": "acme", "role": role}, headers=admin)
    assert created.status_code == 201, created.text
    for text in ("ab", "cd"):
        submitted = client.post("/jobs", json={"text": text},
                                headers={**admin, "X-Tenant-Id": "acme"})
        assert submitted.status_code in (200, 201), submitted.text
    _fuzz(client, created.json()["key"])
    assert_store_consistent(client, database_url, admin)


# -- what the store holds after the run -------------------------------------------------------

def _rows(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """One statement (the same text on both drivers) beside the app's store."""
    if database_url.startswith("sqlite"):
        from conveyor.store.sqlite import sqlite_path_from_url

        with sqlite3.connect(sqlite_path_from_url(database_url)) as conn:
            return [tuple(row) for row in conn.execute(statement)]
    import psycopg

    from conveyor.store.postgres.conninfo import parse_postgres_url

    conninfo, _ = parse_postgres_url(database_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute(statement).fetchall()]


def _refusal(row: tuple[Any, ...], settings_: Settings) -> str | None:
    """Why the API would refuse to accept this stored job today, or None."""
    _, tenant, queue, task, payload, priority, max_retries, idempotency_key = row
    value = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(value, dict):
        return f"payload is not an object: {value!r:.100}"
    problem = find_problem(value)
    if problem is not None:
        return f"payload{problem}"
    if valid_tenant(tenant) != tenant:
        return f"tenant {tenant!r}"
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        return f"idempotency key {idempotency_key!r}"
    try:
        body = SubmitJob.model_validate({"task": task, "payload": value, "queue": queue,
                                         "priority": priority, "max_retries": max_retries})
        to_new_job(body, settings_, build_registry(settings_), tenant=tenant,
                   idempotency_key=idempotency_key, trace_id=None)
    except Exception as exc:  # any refusal, named in the failure
        return f"{type(exc).__name__}: {exc}"
    return None


def assert_store_consistent(client: TestClient, database_url: str,
                            headers: dict[str, str]) -> None:
    """Nothing half-written: every job and event whole, counters equal to the rows, every
    job readable through the API and acceptable to it again."""
    def one(statement: str) -> list[tuple[Any, ...]]:
        return _rows(database_url, statement)

    without_created = one(
        "SELECT j.id FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM job_events e"
        " WHERE e.job_id = j.id AND e.type = 'job_created')")
    assert not without_created, f"jobs without their job_created event: {without_created}"
    created_twice = one("SELECT job_id FROM job_events WHERE type = 'job_created'"
                        " GROUP BY job_id HAVING count(*) > 1")
    assert not created_twice, f"jobs created twice: {created_twice}"
    orphans = one("SELECT e.seq, e.type FROM job_events e"
                  " WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id)")
    assert not orphans, f"events of no job: {orphans}"
    out_of_step = one(
        "SELECT j.id, j.status, e.status, e.type FROM jobs j JOIN job_events e"
        " ON e.seq = (SELECT max(seq) FROM job_events WHERE job_id = j.id)"
        " WHERE e.status <> j.status")
    assert not out_of_step, f"jobs whose status is not their last event's: {out_of_step}"
    one_way = one(
        "SELECT a.id FROM jobs a JOIN jobs b ON b.id = a.retried_by"
        " WHERE b.retry_of IS NULL OR b.retry_of <> a.id")
    assert not one_way, f"retry links one way only: {one_way}"

    by_status = Counter({JobStatus(status): int(n) for status, n in
                         one("SELECT status, count(*) FROM jobs GROUP BY status")})
    events = Counter({name: int(n) for name, n in
                      one("SELECT type, count(*) FROM job_events GROUP BY type")})
    counters = {name: int(value) for name, value in  # PostgreSQL spreads one over rows
                one("SELECT name, sum(value) FROM counters GROUP BY name")}
    jobs = sum(by_status.values())
    for status in JobStatus:
        assert counters.get(status_counter(status), 0) == by_status[status], (
            status, counters, by_status)
    retries = sum(n for event, n in events.items()
                  if LifecycleCounter.RETRIES in BY_EVENT[EventType(event)].counters)
    assert counters.get(LifecycleCounter.JOBS_SUBMITTED, 0) == jobs == events["job_created"]
    assert counters.get(LifecycleCounter.RETRIES, 0) == retries

    metrics = client.get("/metrics", headers=headers).json()
    assert metrics == {
        "pending": by_status[JobStatus.PENDING], "running": by_status[JobStatus.RUNNING],
        "done": by_status[JobStatus.DONE], "failed": by_status[JobStatus.FAILED],
        "cancelled": by_status[JobStatus.CANCELLED], "dlq_count": by_status[JobStatus.FAILED],
        "jobs_submitted": jobs, "retries": retries,
    }

    settings_ = client.app.state.settings  # type: ignore[attr-defined]
    stored = one("SELECT id, tenant, queue, task, payload, priority, max_retries,"
                 " idempotency_key FROM jobs")
    assert len(stored) == jobs
    refused = {str(row[0]): why for row in stored
               if (why := _refusal(row, settings_)) is not None}
    assert not refused, f"stored jobs the API would refuse: {refused}"
    for row in stored:
        answer = client.get(f"/jobs/{row[0]}", params={"history": "true"}, headers=headers)
        assert answer.status_code == 200, (row[0], answer.text[:300])
        assert answer.json()["id"] == str(row[0])
