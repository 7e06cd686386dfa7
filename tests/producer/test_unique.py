"""Unique jobs from Python, on every driver: `@task(unique_on=…, unique_while=…)`, the
producer API's `unique_key` / `unique_fields` / `unique_while` (also on `JobSpec` and
`with_options`), keys derived from payload fields, and the HTTP clients' request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import AsyncQueue, JobSpec, task
from conveyor.clients import calls
from conveyor.config import Settings
from conveyor.errors import IdempotencyConflict, InvalidSubmission
from conveyor.store.base import Store
from conveyor.submitting import unique_key_of


@task("report", unique_on=("report_id",), unique_while="active")
def report(report_id: int, month: str = "") -> None:
    """One report per id while one is waiting or running."""


@task("digest", unique_on="user")
async def digest(payload: dict[str, Any]) -> None:
    """A payload-style task: its fields are only known at submit time."""


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, rate_limit_per_minute=0)


async def test_a_tasks_unique_on_makes_every_submit_of_it_unique(
    store: Store, database_url: str,
) -> None:
    async with AsyncQueue(settings=settings_for(database_url)) as queue:
        first = await report.with_options(via=queue).enqueue_async(7, month="2026-11")
        again = await report.with_options(via=queue).enqueue_async(7)  # month differs
        other = await report.with_options(via=queue).enqueue_async(8)
        assert again.id == first.id and other.id != first.id
        assert (first.unique_key, first.unique_while) == ('report:{"report_id":7}', "active")
        own = await report.with_options(via=queue, unique_key="mine").enqueue_async(7)
        assert own.id != first.id and own.unique_key == "mine"  # a key of its own wins
        pending = await report.with_options(via=queue, unique_while="pending",
                                            unique_fields=("month", "report_id")
                                            ).enqueue_async(7, month="x")
        assert (pending.unique_key, pending.unique_while) == (
            'report:{"month":"x","report_id":7}', "pending")


async def test_derived_keys_come_from_the_cleaned_payload(
    store: Store, database_url: str,
) -> None:
    async with AsyncQueue(settings=settings_for(database_url), tasks=[__name__]) as queue:
        typed = await queue.enqueue("report", {"report_id": 9})
        coerced = await queue.enqueue(report, {"report_id": "9"})  # the model makes it 9
        assert coerced.id == typed.id
        first = await queue.enqueue(digest, {"user": 1, "items": [1]})
        assert (await queue.enqueue(digest, {"user": 1, "items": [2]})).id == first.id
        with pytest.raises(InvalidSubmission, match="'user' is not in the payload"):
            await queue.enqueue(digest, {"items": []})
        with pytest.raises(InvalidSubmission, match="not both"):
            await queue.enqueue("x", {"a": 1}, unique_key="k", unique_fields=["a"])
        with pytest.raises(InvalidSubmission, match="needs a unique key"):
            await queue.enqueue("x", {"a": 1}, unique_while="active")
        with pytest.raises(InvalidSubmission, match="1 to 200"):
            await queue.enqueue("x", {"a": 1}, unique_key="k" * 201)


async def test_queue_enqueue_and_enqueue_many_take_unique_keys(
    store: Store, database_url: str,
) -> None:
    async with AsyncQueue(settings=settings_for(database_url)) as queue:
        first = await queue.enqueue("sync", {"account": 1}, unique_key="sync-1")
        assert (await queue.enqueue("sync", {"account": 1}, unique_key="sync-1")).id == first.id
        jobs = await queue.enqueue_many([
            JobSpec("sync", {"account": 1}, unique_key="sync-1"),
            JobSpec("sync", {"account": 2}, unique_fields=["account"], unique_while="active"),
            JobSpec("sync", {"account": 2}, unique_fields=["account"]),
        ])
        assert jobs[0].id == first.id
        assert jobs[2].id == jobs[1].id and jobs[1].unique_while == "active"
        assert (await store.list_jobs()).total == 2


async def test_an_idempotency_key_compares_the_unique_key_too(
    store: Store, database_url: str,
) -> None:
    async with AsyncQueue(settings=settings_for(database_url)) as queue:
        await queue.enqueue("t", {}, idempotency_key="i", unique_key="u")
        await queue.enqueue("t", {}, idempotency_key="i", unique_key="u")  # a replay
        with pytest.raises(IdempotencyConflict):
            await queue.enqueue("t", {}, idempotency_key="i", unique_key="v")


def test_unique_key_of_is_canonical_and_bounded() -> None:
    assert unique_key_of("t", {"b": [1, {"y": 2, "x": 1}], "a": "é"}, ["b", "a"]) == \
        't:{"a":"é","b":[1,{"x":1,"y":2}]}'
    assert unique_key_of("t", {"a": 1, "b": 2}, ["a", "b"]) == \
        unique_key_of("t", {"a": 1, "b": 2}, ["b", "a"])
    long = unique_key_of("t", {"a": "x" * 500}, ["a"])
    assert long.startswith("t:sha256:") and len(long) == len("t:sha256:") + 64
    assert long != unique_key_of("t", {"a": "x" * 501}, ["a"])
    with pytest.raises(InvalidSubmission):
        unique_key_of("t", {"a": 1}, [])


def test_a_misspelt_unique_on_fails_at_import_time() -> None:
    with pytest.raises(ValueError, match="'reportid'"):
        @task("bad", unique_on=("reportid",))
        def bad(report_id: int) -> None: ...
    with pytest.raises(ValueError, match="unique_while"):
        @task("bad", unique_while="forever")  # type: ignore[call-overload,untyped-decorator]
        def worse(payload: dict[str, Any]) -> None: ...


def test_the_http_clients_send_the_unique_options() -> None:
    call = calls.enqueue("t", {"a": 1}, unique_key="k", unique_while="active")
    assert call.json["unique_key"] == "k" and call.json["unique_while"] == "active"
    assert "unique_fields" not in call.json
    plain = calls.enqueue("t", {"a": 1})
    assert not {"unique_key", "unique_fields", "unique_while"} & set(plain.json)
    batch = calls.enqueue_many([JobSpec("t", {"a": 1}, unique_fields=("a",))])
    assert batch.json["jobs"][0]["unique_fields"] == ["a"]


def test_unique_keys_inside_the_applications_transaction(
    postgres_store: Store, postgres_url: str,
) -> None:
    """PostgreSQL's transactional enqueue: a hit within the transaction, and a job that
    exists only if the transaction commits holds nothing once it is rolled back."""
    import psycopg

    from conveyor import Queue
    from conveyor.store.postgres.conninfo import parse_postgres_url

    with Queue(settings=settings_for(postgres_url)) as queue, \
            psycopg.connect(parse_postgres_url(postgres_url)[0]) as conn:
        with pytest.raises(RuntimeError, match="undo"), conn.transaction():
            dropped = queue.enqueue("ship", {"order": 1}, unique_key="ship-1", connection=conn)
            again = queue.enqueue("ship", {"order": 1}, unique_key="ship-1", connection=conn)
            assert again.id == dropped.id
            raise RuntimeError("undo")
        with conn.transaction():
            kept = queue.enqueue_many([JobSpec("ship", {"order": 1}, unique_key="ship-1")] * 2,
                                      connection=conn)
        assert kept[0].id == kept[1].id != dropped.id
        assert queue.enqueue("ship", {}, unique_key="ship-1").id == kept[0].id
