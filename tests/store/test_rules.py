"""The rule book (`conveyor.store.rules`): each rule unit-tested once, and, where a rule also
runs inside SQL, both drivers shown to agree with the Python rule on both sides of its edge."""

from __future__ import annotations

import pytest

from conveyor.errors import IdempotencyConflict, InvalidTransition
from conveyor.models import Fail, JobStatus, NewJob, RateLimit
from conveyor.store import rules
from conveyor.store.base import Store
from tests.store.sql import run_raw

LONG = 300.0


def keyed(key: str | None, body: str = "h", tenant: str = "default") -> NewJob:
    return NewJob("t", {}, tenant=tenant, idempotency_key=key, request_hash=body)


# -- pure rules -------------------------------------------------------------------------------

def test_a_batch_keeps_the_first_of_each_key() -> None:
    plan = rules.plan_batch([keyed("a"), keyed(None), keyed("a"), keyed("a", tenant="t2")])
    assert plan.fresh == [0, 1, 3] and plan.repeats == {2: 0}
    with pytest.raises(IdempotencyConflict):
        rules.plan_batch([keyed("a"), keyed("a", body="other")])


def test_a_replay_needs_the_same_body() -> None:
    rules.check_replay("h", keyed("a"))
    with pytest.raises(IdempotencyConflict):
        rules.check_replay("other", keyed("a"))


def test_the_bucket_refills_continuously_up_to_its_size() -> None:
    rate = RateLimit(60)  # one token a second
    assert rules.bucket_now(rate, None, 0) == 60
    assert rules.bucket_now(rate, 10.0, 5.0) == 15.0
    assert rules.bucket_now(rate, 59.0, 100.0) == 60.0
    assert rules.bucket_now(rate, 10.0, -3.0) == 10.0  # a clock step back never drains it


def test_the_rate_limit_decision_and_its_retry_after() -> None:
    rate = RateLimit(6)  # a token every 10 s
    assert rules.rate_limited(rate, "t", 2.0, 2) is None
    refusal = rules.rate_limited(rate, "t", 2.0, 3)
    assert refusal is not None and refusal.retry_after == pytest.approx(10.0)
    assert "6 jobs per minute" in refusal.message
    too_big = rules.rate_limited(rate, "t", 6.0, 7)
    assert too_big is not None and too_big.retry_after == 60.0


def test_only_an_unretried_failed_job_can_be_retried() -> None:
    rules.check_retryable("failed", None, {})
    with pytest.raises(InvalidTransition, match="this one is done"):
        rules.check_retryable("done", None, {})
    with pytest.raises(InvalidTransition, match="already retried as x"):
        rules.check_retryable("failed", "x", {})


def test_the_last_attempt() -> None:
    assert not rules.is_last_attempt(1, 1) and rules.is_last_attempt(2, 1)
    assert rules.is_last_attempt(1, 5, permanent=True)
    assert rules.is_last_attempt(1, 0)


def test_the_rescue_error_names_the_worker() -> None:
    assert rules.rescue_error("w1") == "lease expired: worker w1 stopped renewing it"
    assert rules.rescue_error(None) == "lease expired: worker None stopped renewing it"


# -- the SQL agrees with the rules, on every driver -------------------------------------------

@pytest.mark.parametrize("max_retries", [0, 2])
async def test_finish_sends_to_the_dlq_exactly_when_the_rule_says(
    store: Store, max_retries: int
) -> None:
    job = (await store.submit(NewJob("t", {}, max_retries=max_retries))).job
    for attempt in range(1, max_retries + 2):
        await run_raw(store, f"UPDATE jobs SET run_at = created_at WHERE id = '{job.id}'")
        lease = (await store.lease("w", ["default"], 1, LONG))[0]
        assert lease.attempt == attempt
        await store.finish([Fail(lease, "boom", retry_in_sec=0)], "w")
        status = (await store.get(job.id)).status
        expected = JobStatus.FAILED if rules.is_last_attempt(attempt, max_retries) else (
            JobStatus.PENDING)
        assert status is expected, f"attempt {attempt} of 1 + {max_retries}"
    assert status is JobStatus.FAILED


@pytest.mark.parametrize("attempts", [1, 2])
async def test_rescue_agrees_with_the_rule_and_writes_its_error(
    store: Store, attempts: int
) -> None:
    job = (await store.submit(NewJob("t", {}, max_retries=1))).job
    await store.lease("worker-7", ["default"], 1, LONG)
    await run_raw(store, f"UPDATE jobs SET attempts = {attempts},"
                         f" lease_expires_at = created_at WHERE id = '{job.id}'")
    assert await store.rescue() == [job.id]
    rescued = await store.get(job.id)
    expected = JobStatus.FAILED if rules.is_last_attempt(attempts, 1) else JobStatus.PENDING
    assert rescued.status is expected
    assert rescued.last_error == rules.rescue_error("worker-7")
    last = (await store.job_events(job.id))[-1]
    assert last.error == rules.rescue_error("worker-7") and last.worker == "worker-7"


@pytest.mark.parametrize("wanted", [2, 3])
async def test_the_bucket_in_sql_agrees_with_the_rule(store: Store, wanted: int) -> None:
    """A bucket left holding two tokens (6 a minute: one every 10 s) grants two jobs and
    refuses three, with the rule's Retry-After (less the refill since the bucket was set)."""
    rate = RateLimit(6)
    await store.submit_many([NewJob("t", {}) for _ in range(6)], rate)  # the bucket is empty
    await run_raw(store, "UPDATE rate_limits SET tokens = 2")  # as if 20 s had passed
    expected = rules.rate_limited(rate, "default", 2.0, wanted)
    try:
        await store.submit_many([NewJob("t", {}) for _ in range(wanted)], rate)
        refused = None
    except Exception as exc:
        refused = exc
    if expected is None:
        assert refused is None
    else:
        assert type(refused) is type(expected) and refused is not None
        assert refused.retry_after == pytest.approx(expected.retry_after, abs=1.0)  # type: ignore[attr-defined]
        assert str(refused) == str(expected)


def test_payload_limits_take_any_mapping_and_tuples() -> None:
    """Python producers may hand any Mapping (stored as `dict(payload)`) and tuples (written
    as arrays); handlers may return tuples."""
    from types import MappingProxyType

    from conveyor.payloads import find_problem

    rules.check_new_jobs([NewJob("t", MappingProxyType({"a": (1, [2, ("x",)])}))])
    assert find_problem((1, 2)) is None
    assert find_problem(({"a": float("nan")},)) == (
        "[0].a: numbers must be finite (no NaN or Infinity)")
