"""Enqueueing inside the application's own PostgreSQL transaction, with a blocking and an
async psycopg connection: the job exists only if the transaction commits, it is woken at
commit, and a refusal (a conflicting key) raises in the caller's transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from conveyor import AsyncQueue, JobSpec, Queue
from conveyor.config import Settings
from conveyor.errors import IdempotencyConflict, InvalidSubmission
from conveyor.models import JobStatus
from conveyor.store.base import Store
from conveyor.store.postgres.conninfo import parse_postgres_url
from conveyor.store.postgres.events import COPY_ROWS


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, rate_limit_per_minute=0)


def conninfo(url: str) -> str:
    return parse_postgres_url(url)[0]


def test_blocking_connection_commit_and_rollback(postgres_store: Store, postgres_url: str) -> None:
    with Queue(settings=settings_for(postgres_url)) as queue, \
            psycopg.connect(conninfo(postgres_url)) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.commit()
        with conn.transaction():
            conn.execute("INSERT INTO orders VALUES (1)")
            kept = queue.enqueue("ship", {"order": 1}, connection=conn)
            # Not visible outside the transaction until it commits.
            assert asyncio.run(_exists(postgres_url, kept.id)) is False
        assert queue.get(kept.id).status is JobStatus.PENDING
        with pytest.raises(RuntimeError, match="undo"), conn.transaction():
            conn.execute("INSERT INTO orders VALUES (2)")
            dropped = queue.enqueue("ship", {"order": 2}, connection=conn)
            batch = queue.enqueue_many([JobSpec("ship", {"order": 3})] * 2, connection=conn)
            raise RuntimeError("undo")
        for job_id in (dropped.id, *(job.id for job in batch)):
            assert asyncio.run(_exists(postgres_url, job_id)) is False
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)
        # The connection keeps its own row factory (tuples here).
        assert isinstance(conn.execute("SELECT 1").fetchone(), tuple)


async def _exists(url: str, job_id: Any) -> bool:
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cur = await conn.execute("SELECT 1 FROM jobs WHERE id = %s", (job_id,))
        return await cur.fetchone() is not None


BIG = 100  # a keyless batch this big is written by COPY
assert BIG >= COPY_ROWS


@pytest.mark.parametrize("count", [1, BIG], ids=["one job", "a copied batch"])
async def test_async_connection_wakes_listeners_at_commit(
    postgres_store: Store, postgres_url: str, count: int
) -> None:
    async with AsyncQueue(settings=settings_for(postgres_url)) as queue, \
            await psycopg.AsyncConnection.connect(conninfo(postgres_url)) as conn:
        before = await postgres_store.last_event_seq()
        async with conn.transaction():
            jobs = await queue.enqueue_many(
                [JobSpec("ship", {"order": i}) for i in range(count)], connection=conn)
            seen = await postgres_store.wait_for_change(before, 0.3)
            assert seen == before, "nothing is announced before the commit"
        seen = await postgres_store.wait_for_change(before, 5.0)
        assert seen >= before + count  # the NOTIFY came with the commit
        assert [await postgres_store.get(job.id) for job in jobs] == jobs
        assert {job.status for job in jobs} == {JobStatus.PENDING}


async def test_a_conflicting_key_raises_in_the_callers_transaction(
    postgres_store: Store, postgres_url: str
) -> None:
    async with AsyncQueue(settings=settings_for(postgres_url)) as queue, \
            await psycopg.AsyncConnection.connect(conninfo(postgres_url)) as conn:
        first = await queue.enqueue("ship", {"order": 1}, idempotency_key="o-1")
        async with conn.transaction():
            again = await queue.enqueue("ship", {"order": 1}, idempotency_key="o-1",
                                        connection=conn)
            assert again.id == first.id  # a replay, as anywhere else
            with pytest.raises(IdempotencyConflict):
                await queue.enqueue("ship", {"order": 2}, idempotency_key="o-1",
                                    connection=conn)
            # The savepoint was rolled back: the caller's transaction is still usable.
            cur = await conn.execute("SELECT 1")
            assert await cur.fetchone() == (1,)


def test_wrong_connections_are_refused(postgres_url: str, tmp_path: Any) -> None:
    with (Queue(settings=settings_for(postgres_url)) as queue,
          pytest.raises(TypeError, match=r"psycopg\.Connection")):
        queue.enqueue("ship", {}, connection=object())
    with (Queue(settings=settings_for(f"sqlite:///{tmp_path}/x.db")) as queue,
          pytest.raises(InvalidSubmission, match="PostgreSQL")):
        queue.enqueue("ship", {}, connection=object())


def test_a_big_batch_joins_a_blocking_transaction(postgres_store: Store,
                                                  postgres_url: str) -> None:
    with Queue(settings=settings_for(postgres_url)) as queue, \
            psycopg.connect(conninfo(postgres_url)) as conn:
        with pytest.raises(RuntimeError, match="undo"), conn.transaction():
            dropped = queue.enqueue_many([JobSpec("ship", {"order": i}) for i in range(BIG)],
                                         connection=conn)
            raise RuntimeError("undo")
        assert not any(asyncio.run(_exists(postgres_url, job.id)) for job in dropped[:3])
        with conn.transaction():
            kept = queue.enqueue_many([JobSpec("ship", {"order": i}) for i in range(BIG)],
                                      connection=conn)
        assert [queue.get(job.id) for job in kept] == kept
        assert asyncio.run(_event_types(postgres_url, kept[-1].id)) == ["job_created"]


async def _event_types(url: str, job_id: Any) -> list[str]:
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cur = await conn.execute("SELECT type FROM job_events WHERE job_id = %s ORDER BY seq",
                                 (job_id,))
        return [row[0] for row in await cur.fetchall()]
