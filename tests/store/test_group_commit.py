"""Group commit (`store/group.py`): concurrent `submit`s share a transaction, on every driver,
and each still gets exactly the outcome it would have had alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor.errors import IdempotencyConflict, RateLimited
from conveyor.models import JobStatus, NewJob, RateLimit, SubmitResult
from conveyor.store.base import Store


def job(text: str = "Hi", **kwargs: Any) -> NewJob:
    return NewJob("text", {"text": text}, **kwargs)


def count_submit_writes(store: Store) -> list[int]:
    """Spy on the driver's write transactions: how many jobs each submit write carried."""
    sizes: list[int] = []
    write = store._write  # type: ignore[attr-defined]

    async def counting(operation: str, *args: Any) -> Any:
        if operation.startswith("submit"):
            sizes.append(len(args[0]))
        return await write(operation, *args)

    store._write = counting  # type: ignore[attr-defined]
    return sizes


async def test_concurrent_submits_share_commits(store: Store) -> None:
    sizes = count_submit_writes(store)
    results = await asyncio.gather(*(store.submit(job(f"j{i}")) for i in range(40)))
    assert all(result.created for result in results)
    assert len({result.job.id for result in results}) == 40
    assert sum(sizes) == 40
    assert len(sizes) < 40, sizes  # alone, each would have been a commit of its own
    for result in results:
        assert [e.type.value for e in await store.job_events(result.job.id)] == ["job_created"]
    assert (await store.counts()).pending == 40


async def test_an_idle_submit_is_written_at_once_alone(store: Store) -> None:
    sizes = count_submit_writes(store)
    for i in range(3):
        assert (await store.submit(job(f"j{i}"))).created
    assert sizes == [1, 1, 1]


async def test_each_submit_of_a_group_gets_its_own_outcome(store: Store) -> None:
    sizes = count_submit_writes(store)
    outcomes = await asyncio.gather(
        store.submit(job("a", idempotency_key="k", request_hash="h1")),
        store.submit(job("a", idempotency_key="k", request_hash="h1")),  # a replay of the first
        store.submit(job("b", idempotency_key="k", request_hash="h2")),  # same key, other body
        store.submit(job("c")),
        return_exceptions=True,
    )
    assert len(sizes) < 4
    first, replay, conflict, plain = outcomes
    assert isinstance(first, SubmitResult) and first.created
    assert isinstance(replay, SubmitResult) and not replay.created
    assert replay.job.id == first.job.id
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(plain, SubmitResult) and plain.created
    assert (await store.counts()).pending == 2
    assert (await store.list_jobs()).total == 2


async def test_a_rate_limit_refuses_only_the_submits_past_it(store: Store) -> None:
    rate = RateLimit(per_minute=2)
    sizes = count_submit_writes(store)
    outcomes = await asyncio.gather(
        *(store.submit(job(f"r{i}", tenant="r"), rate) for i in range(4)),
        store.submit(job("s", tenant="s"), rate),
        return_exceptions=True,
    )
    assert len(sizes) < 5
    created = [o for o in outcomes[:4] if isinstance(o, SubmitResult)]
    refused = [o for o in outcomes[:4] if isinstance(o, RateLimited)]
    assert len(created) == 2 and len(refused) == 2, outcomes
    assert all(o.retry_after > 0 for o in refused)
    # Arrival order decides who gets the tokens, as with separate submits in a row.
    assert outcomes[0] in created and outcomes[1] in created
    assert isinstance(outcomes[4], SubmitResult) and outcomes[4].created
    page = await store.list_jobs(tenant="r")
    assert page.total == 2
    assert {j.id for j in page.jobs} == {o.job.id for o in created}
    assert (await store.counts()).pending == 3
    # The refused left no row and no event behind; the bucket is now empty.
    with pytest.raises(RateLimited):
        await store.submit(job("late", tenant="r"), rate)


async def test_a_replay_in_a_rate_limited_group_takes_no_token(store: Store) -> None:
    rate = RateLimit(per_minute=1)
    first = await store.submit(job("a", tenant="t", idempotency_key="k", request_hash="h"),
                               rate)
    outcomes = await asyncio.gather(
        store.submit(job("a", tenant="t", idempotency_key="k", request_hash="h"), rate),
        store.submit(job("a", tenant="t", idempotency_key="k", request_hash="h"), rate),
        return_exceptions=True,
    )
    for outcome in outcomes:
        assert isinstance(outcome, SubmitResult) and not outcome.created
        assert outcome.job.id == first.job.id
    assert (await store.get(first.job.id)).status is JobStatus.PENDING
    assert (await store.list_jobs(tenant="t")).total == 1


async def test_a_group_gets_what_is_left_of_a_used_bucket(store: Store) -> None:
    rate = RateLimit(per_minute=3)
    assert (await store.submit(job("alone", tenant="r"), rate)).created  # 2 tokens left
    outcomes = await asyncio.gather(
        *(store.submit(job(f"r{i}", tenant="r"), rate) for i in range(4)),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == [
        "SubmitResult", "SubmitResult", "RateLimited", "RateLimited"]
    assert (await store.list_jobs(tenant="r")).total == 3
