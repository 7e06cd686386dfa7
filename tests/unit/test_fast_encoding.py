"""The API's cheaper encodings give what the straightforward ones give: a job's JSON, a log
line, a new trace id."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
import structlog

from conveyor.api.middleware import new_trace_id
from conveyor.logging import render_json
from conveyor.models import Job, JobStatus, new_job_id
from conveyor.wire import JobOut, job_out_json

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _job(**fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": new_job_id(), "tenant": "default", "queue": "default", "task": "text",
        "payload": {"text": "hi"}, "status": JobStatus.PENDING, "priority": 0, "attempts": 0,
        "max_retries": 3, "run_at": NOW, "created_at": NOW, "trace_id": "a" * 32,
    }
    return Job(**(values | fields))


JOBS = [
    _job(),
    _job(payload={}, trace_id=None, run_at=NOW + timedelta(seconds=1.5)),
    _job(payload=MappingProxyType({"a": [1, 2.5, None, True, {"b": "é\u2028"}], "c": (1, 2)}),
         status=JobStatus.DONE, attempts=2, started_at=NOW, finished_at=NOW,
         lease_owner="w1", lease_expires_at=NOW, last_error="boom", result={"r": [1, "x"]},
         idempotency_key="key", retry_of=uuid.uuid4(), retried_by=uuid.uuid4(),
         priority=-5, max_retries=0),
    _job(payload={"big": 2**200, "neg": -0.0, "e": 1e300, "t": (1, [2, (3,)])}, result="text"),
    _job(payload={"x": {"y": {}}}, result=[(1, 2), {"k": None}]),
    _job(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
]


@pytest.mark.parametrize("job", JOBS)
def test_job_out_json_is_the_response_models_json(job: Job) -> None:
    expected = JobOut.from_job(job).model_dump_json().encode()
    assert job_out_json(job, checked=True) == expected
    assert job_out_json(job) == expected


def test_job_out_json_unchecked_still_shows_an_unreadable_stored_value() -> None:
    job = _job(payload={"a": "\x00"})
    shown = json.loads(job_out_json(job))["payload"]
    assert list(shown) == ["$conveyor_unreadable"]


def test_render_json_is_the_processor_chain_it_replaces() -> None:
    chain = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]

    def run_chain(method: str, event: dict[str, Any]) -> str:
        for processor in chain:
            event = processor(None, method, event)  # type: ignore[assignment]
        assert isinstance(event, str)
        return event

    stamp = re.compile(r'"ts": "[^"]+"')
    try:
        raise ValueError("bad")
    except ValueError as exc:
        error = exc
    tokens = structlog.contextvars.bind_contextvars(traceId="t-1", jobId="j")
    try:
        for method, event in [
            ("info", {"event": "http_request", "status": 201, "duration_ms": 1.5}),
            ("warn", {"event": "x", "traceId": "explicit", "obj": object(), "n": None}),
            ("exception", {"event": "boom", "exc_info": error, "text": "é"}),
            ("error", {"event": "y", "nested": {"a": [1, 2.5, float("nan")]}}),
        ]:
            ours = render_json(None, method, dict(event))
            theirs = run_chain(method, dict(event))
            assert stamp.sub("", ours) == stamp.sub("", theirs)
            assert re.search(r'"ts": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"', ours)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def test_configured_logging_writes_one_json_line_per_event(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.logging import bind_context, configure_logging, context_field

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    try:
        configure_logging("info")
        log = structlog.get_logger("t")
        var = context_field("traceId")
        token = var.set("tr")
        with bind_context(jobId="j1"):
            log.info("hello", n=1)
        var.reset(token)
        log.debug("hidden")
        log.warning("after")
    finally:
        structlog.reset_defaults()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first | {"ts": ""} == {"n": 1, "event": "hello", "jobId": "j1", "traceId": "tr",
                                  "level": "info", "ts": ""}
    assert set(second) == {"event", "level", "ts"} and second["level"] == "warning"


def test_new_trace_ids_are_uuid4_hex() -> None:
    ids = {new_trace_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", value)
        assert uuid.UUID(hex=value).version == 4
        assert uuid.UUID(hex=value).variant == uuid.RFC_4122
