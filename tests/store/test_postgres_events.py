"""PostgreSQL event log: LISTEN/NOTIFY wake-ups and seq order equal to commit order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import pytest

from conveyor.models import Ack, NewJob
from conveyor.store.base import Store
from conveyor.store.postgres import PostgresStore, events, open_postgres, producers
from conveyor.store.postgres.events import EVENT_LOCK_KEY
from tests.pgsupport import until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(postgres_store: Store) -> PostgresStore:
    """The shared `postgres_store` fixture, typed as the driver these tests look inside."""
    assert isinstance(postgres_store, PostgresStore)
    return postgres_store


def job(text: str = "x") -> NewJob:
    return NewJob("text", {"text": text})


async def test_notify_wakes_a_waiter_in_another_process_promptly(postgres_url: str) -> None:
    """The waiter's fallback poll is 5 s while LISTEN is up: waking well before that proves the
    NOTIFY from the other store's commit did it."""
    producer, consumer = await open_postgres(postgres_url), await open_postgres(postgres_url)
    try:
        await consumer.wait_for_change(0, 0)  # its listener starts with its first wait
        await until(lambda: consumer._listener.connected, message="listener never connected")
        seq = await consumer.last_event_seq()
        loop = asyncio.get_running_loop()
        waiter = asyncio.create_task(consumer.wait_for_change(seq, 30.0))
        await asyncio.sleep(0)  # let the waiter start waiting
        started = loop.time()
        await producer.submit(job())
        new_seq = await asyncio.wait_for(waiter, 10.0)
        assert new_seq > seq
        assert loop.time() - started < 2.0
        assert [e.type.value for e in await consumer.events_after(seq)] == ["job_created"]
    finally:
        await producer.close()
        await consumer.close()


async def test_wait_for_change_times_out_with_the_current_seq(pg_store: PostgresStore) -> None:
    await pg_store.submit(job())
    seq = await pg_store.last_event_seq()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await pg_store.wait_for_change(seq, 0.2) == seq
    assert 0.15 < loop.time() - started < 3.0
    assert await pg_store.wait_for_change(seq - 1, 5.0) == seq  # already above: at once


async def test_a_later_seq_never_becomes_visible_before_an_earlier_one(
    pg_store: PostgresStore,
) -> None:
    """A transaction that allocated a seq but has not committed holds the event lock, so a
    second writer waits instead of committing a higher seq first; a reader following
    `events_after` therefore never skips the earlier event."""
    start = await pg_store.last_event_seq()
    async with await psycopg.AsyncConnection.connect(pg_store.url) as slow:
        await slow.execute("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK_KEY,))
        cur = await slow.execute(
            "INSERT INTO job_events (job_id, type, status, attempt, tenant, task)"
            " VALUES (%s, 'job_created', 'pending', 0, 'default', 'text') RETURNING seq",
            (uuid.uuid4(),),
        )
        row = await cur.fetchone()
        assert row is not None
        slow_seq = int(row[0])
        fast = asyncio.create_task(pg_store.submit(job()))
        await until(_advisory_waiters(pg_store.url), message="submit never waited for the lock")
        assert not fast.done()
        assert await pg_store.events_after(start) == []  # nothing committed, nothing skipped
        await slow.commit()
    await asyncio.wait_for(fast, 5)
    seqs = [event.seq for event in await pg_store.events_after(start)]
    assert seqs[0] == slow_seq and len(seqs) == 2 and seqs[1] > slow_seq


def _advisory_waiters(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            row = await cur.fetchone()
            return row is not None and int(row[0]) > 0

    return check


async def test_a_following_reader_sees_every_event_under_concurrent_writers(
    postgres_url: str,
) -> None:
    """Readers that move their cursor to the last seq they saw (as /ws catch-up does) end up
    with every event, while several connections write at once."""
    writers = [await open_postgres(postgres_url) for _ in range(4)]
    reader = await open_postgres(postgres_url)
    seen: list[int] = []
    done = asyncio.Event()

    async def follow() -> None:
        cursor = 0
        for _ in range(100_000):  # bounded; ends when the writers are done and it caught up
            events = await reader.events_after(cursor, limit=50)
            if events:
                seen.extend(event.seq for event in events)
                cursor = events[-1].seq
            elif done.is_set():
                return
            else:
                await reader.wait_for_change(cursor, 0.05)

    async def write(store: PostgresStore, worker: str) -> None:
        for _ in range(15):
            await store.submit_many([job(), job()])
            await store.submit(job())
            leases = await store.lease(worker, ["default"], 2, 300)
            await store.finish([Ack(lease) for lease in leases], worker)

    try:
        follower = asyncio.create_task(follow())
        await asyncio.gather(*[write(store, f"w{i}") for i, store in enumerate(writers)])
        done.set()
        await asyncio.wait_for(follower, 30)
        everything = [event.seq for event in await reader.events_after(0, limit=100_000)]
        assert seen == everything
        assert len(everything) > 4 * 15 * 3
    finally:
        for store in [*writers, reader]:
            await store.close()


async def test_listener_reconnects_after_its_connection_is_killed(pg_store: PostgresStore) -> None:
    await pg_store.wait_for_change(0, 0)  # its listener starts with its first wait
    await until(lambda: pg_store._listener.connected, message="listener never connected")
    async with await psycopg.AsyncConnection.connect(pg_store.url, autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name = 'conveyor-listener'"
        )
    await until(lambda: not pg_store._listener.connected, message="loss never noticed")
    await until(lambda: pg_store._listener.connected, timeout=15, message="never reconnected")
    seq = await pg_store.last_event_seq()
    waiter = asyncio.create_task(pg_store.wait_for_change(seq, 30.0))
    await asyncio.sleep(0)
    await pg_store.submit(job())
    assert await asyncio.wait_for(waiter, 3.0) > seq


async def test_a_big_keyless_batch_and_its_events_are_copied(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From `COPY_ROWS` jobs on, a keyless batch's jobs and events go in by COPY (below it,
    by the one SUBMIT statement); the NOTIFY names the batch's last seq."""
    copied: list[str] = []
    real = events.copy_rows

    async def spy(conn: object, statement: str, *args: object) -> None:
        copied.append(statement.split()[1])
        await real(conn, statement, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "copy_rows", spy)
    monkeypatch.setattr(producers, "copy_rows", spy)
    await pg_store.submit_many([job(str(i)) for i in range(events.COPY_ROWS - 1)])
    assert copied == []
    await pg_store.wait_for_change(0, 0)  # its listener starts with its first wait
    before = await pg_store.last_event_seq()
    await pg_store.submit_many([job(str(i)) for i in range(events.COPY_ROWS)])
    assert copied == ["jobs", "job_events"]
    await until(lambda: pg_store._listener.newest_seq >= before + events.COPY_ROWS,
                message="the batch's NOTIFY never named its last seq")
    assert pg_store._listener.newest_seq == await pg_store.last_event_seq()
