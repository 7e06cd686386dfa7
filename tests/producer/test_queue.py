"""The producer API (`conveyor.Queue`, `conveyor.AsyncQueue`) on every driver: the API's rules
applied without HTTP (payload models, MAX_RETRIES, idempotency with body comparison, rate
limits, trace ids), batches, get and cancel, typed tasks, producer-only connections."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from conveyor import AsyncQueue, JobContext, JobSpec, Queue, task
from conveyor.config import Settings
from conveyor.errors import (
    IdempotencyConflict,
    InvalidPayload,
    InvalidSubmission,
    InvalidTransition,
    RateLimited,
    SchemaOutdated,
)
from conveyor.models import JobStatus
from conveyor.runtime import build_app, build_registry
from conveyor.store.base import Store
from conveyor.worker import Worker
from tests.processes import until


class Greeting(BaseModel):
    name: str
    shout: bool = False


@task("greet", payload_model=Greeting)
async def greet(payload: dict[str, Any]) -> str:
    return f"hello {payload['name']}"


@task("send_email", timeout=30)
def send_email(to: str, subject: str = "", when: datetime | None = None) -> dict[str, Any]:
    return {"to": to, "subject": subject, "when_type": type(when).__name__}


@task
async def count_to(context: JobContext, n: int) -> int:
    context.progress(1.0, f"counted to {n}")
    return n


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(**{"database_url": url, "rate_limit_per_minute": 0, "max_retries": 7,
                       **overrides})


async def test_enqueue_applies_the_apis_rules(store: Store, database_url: str) -> None:
    async with AsyncQueue(settings=settings_for(database_url), tasks=[__name__],
                          tenant="acme") as queue:
        job = await queue.enqueue("greet", {"name": "Ada", "extra": "dropped"})
        assert job.payload == {"name": "Ada"}  # the payload model's fields only
        assert (job.tenant, job.max_retries, job.status) == ("acme", 7, JobStatus.PENDING)
        assert job.trace_id and len(job.trace_id) == 32
        with pytest.raises(InvalidSubmission, match=r"payload\.name"):
            await queue.enqueue("greet", {"shout": True})
        with pytest.raises(InvalidSubmission, match="not both"):
            await queue.enqueue("greet", {"name": "x"}, delay_sec=5,
                                run_at=datetime.now(UTC))
        with pytest.raises(InvalidPayload):
            await queue.enqueue("anything", {"x": float("nan")})
        unknown = await queue.enqueue("only_in_workers", {"a": 1}, max_retries=0)
        assert unknown.payload == {"a": 1} and unknown.max_retries == 0
        first = await queue.enqueue("greet", {"name": "Bo"}, idempotency_key="k1")
        again = await queue.enqueue("greet", {"name": "Bo"}, idempotency_key="k1")
        assert again.id == first.id
        with pytest.raises(IdempotencyConflict):
            await queue.enqueue("greet", {"name": "Cy"}, idempotency_key="k1")
        later = await queue.enqueue("greet", {"name": "Di"},
                                    run_at=datetime.now(UTC) + timedelta(hours=1), timeout=9)
        assert later.timeout_sec == 9 and later.run_at > datetime.now(UTC)
        assert (await queue.get(later.id)).id == later.id
        assert (await queue.cancel(str(later.id))).status is JobStatus.CANCELLED
        with pytest.raises(InvalidTransition):
            await queue.cancel(later.id)


async def test_rate_limits_apply_to_producers_too(store: Store, database_url: str) -> None:
    async with AsyncQueue(settings=settings_for(database_url, rate_limit_per_minute=2)) as queue:
        await queue.enqueue("t", {})
        await queue.enqueue("t", {})
        with pytest.raises(RateLimited) as limited:
            await queue.enqueue("t", {})
        assert limited.value.retry_after > 0
        with pytest.raises(InvalidSubmission, match="exceeds"):
            await queue.enqueue_many([JobSpec("t")] * 3)


async def test_enqueue_many_is_one_transaction_with_keys_per_job(
    store: Store, database_url: str
) -> None:
    async with AsyncQueue(settings=settings_for(database_url), tasks=[__name__]) as queue:
        jobs = await queue.enqueue_many(
            [JobSpec("greet", {"name": "a"}), JobSpec("greet", {"name": "b"}, queue="q2")],
            idempotency_key="batch")
        assert [j.idempotency_key for j in jobs] == ["batch:0", "batch:1"]
        assert jobs[1].queue == "q2"
        with pytest.raises(InvalidSubmission):  # one bad job: none is written
            await queue.enqueue_many([JobSpec("greet", {"name": "c"}), JobSpec("greet", {})])
        assert (await store.counts()).pending == 2


def test_the_blocking_queue_from_threads(store: Store, database_url: str) -> None:
    with Queue(settings=settings_for(database_url)) as queue:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            jobs = list(pool.map(lambda i: queue.enqueue("t", {"i": i}), range(20)))
        assert len({job.id for job in jobs}) == 20
        assert queue.get(jobs[0].id).payload == {"i": 0}


async def test_a_postgres_producer_has_a_small_pool_and_listens_to_nothing(
    postgres_store: Store, postgres_url: str
) -> None:
    """(On SQLite a producer differs only by checking the schema: the next tests.)"""
    await postgres_store.wait_for_change(0, 0)  # a worker-side store listens once it waits
    async with AsyncQueue(settings=settings_for(postgres_url)) as queue:
        producer_store: Any = await queue.store()
        await producer_store.wait_for_change(0, 0)  # a producer's waits poll instead
        await producer_store.wait_for_work(0, 0)
        assert not producer_store._listener.started and not producer_store._listener.connected
        assert not producer_store._work_listener.started
        assert producer_store._pool.max_size <= 4
        rows = await producer_store.run_sql(
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE application_name = 'conveyor-listener' AND datname = current_database()")
        assert rows[0]["n"] == 1  # the worker-side store's listener, not the producer's


async def test_an_unmigrated_database_is_refused_not_migrated(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    with pytest.raises(SchemaOutdated, match="conveyor migrate"):
        async with AsyncQueue(settings=settings_for(url)) as queue:
            await queue.enqueue("t", {})
    import sqlite3

    tables = sqlite3.connect(tmp_path / "empty.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []  # nothing was created


def test_an_unmigrated_postgres_database_is_refused() -> None:
    from tests.pgsupport import empty_postgres_database

    with (empty_postgres_database() as url, pytest.raises(SchemaOutdated),
          Queue(settings=settings_for(url)) as queue):
        queue.enqueue("t", {})


async def test_typed_tasks_enqueue_through_themselves(store: Store, database_url: str) -> None:
    async with AsyncQueue(settings=settings_for(database_url)) as queue:
        when = datetime(2030, 5, 1, 12, tzinfo=UTC)
        job = await send_email.with_options(via=queue, queue="mail", priority=3).enqueue_async(
            "a@b.c", subject="hi", when=when)
        assert job.payload == {"to": "a@b.c", "subject": "hi", "when": "2030-05-01T12:00:00Z"}
        assert (job.queue, job.priority, job.task) == ("mail", 3, "send_email")
        with pytest.raises(InvalidSubmission, match="send_email"):
            await send_email.with_options(via=queue).enqueue_async(to=["not", "a", "str"])
        with pytest.raises(TypeError):
            await send_email.with_options(via=queue).enqueue_async(recipient="x")  # type: ignore[call-arg]
        counted = await count_to.with_options(via=queue).enqueue_async(5)
        assert counted.task == "count_to" and counted.payload == {"n": 5}
        assert send_email("x") == {"to": "x", "subject": "", "when_type": "NoneType"}

        settings = Settings(database_url=database_url, worker_poll_ms=50)
        worker = Worker(store, settings, build_registry(settings, [__name__]),
                        queues=["default", "mail"])
        running = asyncio.create_task(worker.run())
        try:
            async def finished() -> Any:
                done = [await store.get(j.id) for j in (job, counted)]
                return done if all(d.status is JobStatus.DONE for d in done) else None

            done = await until(finished, timeout=10, message="typed tasks ran")
        finally:
            worker.stop()
            await asyncio.wait_for(running, 10)
        # The handler got typed arguments back: a datetime, not its JSON text.
        assert done[0].result == {"to": "a@b.c", "subject": "hi", "when_type": "datetime"}
        assert done[1].result == 5  # its JobContext came as the argument annotated so


def test_the_api_and_the_producer_are_one_path(store: Store, database_url: str) -> None:
    """The same keyed submission over HTTP and from Python is one job (same request hash)."""
    settings = settings_for(database_url, dashboard_dir=None)
    app = build_app(settings, build_registry(settings, [__name__]), run_worker=False)
    with TestClient(app) as client:
        body = {"task": "greet", "payload": {"name": "Ed"}}
        over_http = client.post("/jobs", json=body, headers={"Idempotency-Key": "same"}).json()
    with Queue(settings=settings, tasks=[__name__]) as queue:
        from_python = queue.enqueue("greet", {"name": "Ed"}, idempotency_key="same")
        assert str(from_python.id) == over_http["id"]
        with pytest.raises(IdempotencyConflict):
            queue.enqueue("greet", {"name": "Fay"}, idempotency_key="same")
    assert uuid.UUID(over_http["id"]) == from_python.id
