"""Pure pieces: backoff, trace ids, content negotiation, settings, text task checks."""

from __future__ import annotations

import random
import uuid

import pytest

from conveyor.api.middleware import trace_id_from
from conveyor.api.system import wants_prometheus
from conveyor.backoff import retry_delay
from conveyor.builtin_tasks import SimulatedFailure, check_text_payload
from conveyor.config import Settings
from conveyor.errors import PermanentError
from conveyor.models import new_job_id, new_job_ids
from conveyor.store.migrate import load_migrations
from conveyor.store.sqlite.migrate import split_sqlite_statements


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    rng = random.Random(7)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)]:
        delays = [retry_delay(attempt, 1.0, 60.0, rng) for _ in range(200)]
        assert min(delays) >= step / 2 and max(delays) <= step
        assert max(delays) - min(delays) > step / 4, "jitter spreads retries"
    assert retry_delay(3, 0.0, 60.0) == 0.0


def test_trace_id_sources() -> None:
    assert trace_id_from("req-1", None) == "req-1"
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert trace_id_from(None, parent) == "4bf92f3577b34da6a3ce929d0e0e4736"
    zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
    generated = {trace_id_from(None, zero) for _ in range(3)}
    assert len(generated) == 3 and all(len(t) == 32 for t in generated)
    assert trace_id_from("x" * 129, None) != "x" * 129


@pytest.mark.parametrize(("accept", "fmt", "expected"), [
    (None, None, False),
    ("*/*", None, False),
    ("application/json", None, False),
    ("text/plain;version=0.0.4", None, True),
    ("application/openmetrics-text;version=1.0.0,text/plain;q=0.5", None, True),
    ("application/json", "prometheus", True),
    ("text/plain", "json", False),
])
def test_metrics_content_negotiation(accept: str | None, fmt: str | None,
                                     expected: bool) -> None:
    assert wants_prometheus(accept, fmt) is expected


def test_settings_keep_seed_names_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "API_KEY", "RATE_LIMIT_PER_MINUTE", "LEASE_TIMEOUT_SEC", "MAX_RETRIES",
                 "WORKER_POLL_MS", "WORKER_CONCURRENCY", "DATABASE_URL", "HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.port, settings.api_key, settings.rate_limit_per_minute) == (8000, None, 10)
    assert (settings.lease_timeout_sec, settings.max_retries) == (300, 3)
    assert (settings.worker_poll_ms, settings.worker_concurrency) == (2000, 5)
    assert settings.host == "127.0.0.1" and settings.database_url.startswith("sqlite:")
    monkeypatch.setenv("WORKER_CONCURRENCY", "9")
    monkeypatch.setenv("API_KEY", "")
    env = Settings(_env_file=None)  # type: ignore[call-arg]
    assert env.worker_concurrency == 9 and env.api_key is None


def test_text_checks_follow_seed_order_and_permanence() -> None:
    assert check_text_payload({"text": "Hello"}) == "Hello"
    assert check_text_payload({"text": "x" * 30}) == "x" * 30
    with pytest.raises(SimulatedFailure):
        check_text_payload({"fail": True, "text": "Hello"})
    for payload in ({"invalid": True}, {}, {"text": ""}, {"text": "x" * 31},
                    {"text": "REJECT this"}):
        with pytest.raises(PermanentError):
            check_text_payload(payload)


def test_job_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_job_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids), "strictly increasing within a process, even within one ms"
    assert len(set(ids)) == 1000


def test_job_ids_made_in_a_batch_keep_the_order_past_a_full_millisecond() -> None:
    before = new_job_id()
    batch = new_job_ids(10_000)  # more than the 4,096 a millisecond's counter holds
    after = new_job_id()
    ids = [before, *batch, after]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len({i.int & ((1 << 62) - 1) for i in batch}) == len(batch), "random tails differ"


def test_sqlite_migrations_split_into_statements() -> None:
    [first, *_] = load_migrations("sqlite")
    statements = split_sqlite_statements(first.sql)
    assert sum("CREATE TABLE jobs (" in s for s in statements) == 1
    assert len(statements) >= 10
    assert split_sqlite_statements("SELECT 1;\n-- trailing comment\n") == ["SELECT 1;"]
    with pytest.raises(ValueError):
        split_sqlite_statements("SELECT 1;\nCREATE TABLE x (")

