"""Client-side deadlines: a store call that gets no answer raises `StoreUnavailable` within
its deadline instead of waiting for TCP or a busy handler (minutes), and a write abandoned
that way writes nothing. SQLite: a file locked by another process. PostgreSQL: a statement
that does not return (the partition itself is `tests/faults/test_partition.py`)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from conveyor.errors import StoreUnavailable
from conveyor.models import NewJob
from conveyor.store import connect_store
from conveyor.store.base import Store

DEADLINE = 0.5


async def test_a_locked_sqlite_file_fails_within_the_deadline_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = await connect_store(f"sqlite:///{tmp_path}/conveyor.db")
    store.call_timeout = DEADLINE
    path = store.path  # type: ignore[attr-defined]
    try:
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        began = time.monotonic()
        with pytest.raises(StoreUnavailable, match="no answer within"):
            await store.submit(NewJob("t", {"n": 1}))
        assert time.monotonic() - began < DEADLINE + 2.0  # not the 30 s busy timeout
        locker.execute("ROLLBACK")
        locker.close()

        async def answers() -> bool:
            try:
                await store.submit(NewJob("t", {"n": 2}))
            except StoreUnavailable:
                await asyncio.sleep(0.1)
                return False
            return True

        deadline = time.monotonic() + 40
        while not await answers():
            assert time.monotonic() < deadline, "the store never answered again"
        payloads = [dict(job.payload) for job in (await store.list_jobs()).jobs]
        assert {"n": 1} not in payloads  # abandoned while the file was locked: nothing
        # A retry of n=2 cut by its own deadline may still have committed (a cut that comes
        # as the commit does cannot undo it, as with any timeout), so n=2 is there once or
        # more, never n=1.
        assert payloads and all(payload == {"n": 2} for payload in payloads), payloads
    finally:
        await store.close()


async def test_a_postgres_call_that_does_not_return_fails_within_the_deadline(
    postgres_store: Store,
) -> None:
    postgres_store.call_timeout = DEADLINE
    run_sql = postgres_store.run_sql  # type: ignore[attr-defined]
    began = time.monotonic()
    with pytest.raises(StoreUnavailable, match="no answer within"):
        await run_sql("SELECT pg_sleep(20)")
    assert time.monotonic() - began < DEADLINE + 2.0
    postgres_store.call_timeout = 10.0
    await postgres_store.submit(NewJob("t", {}))  # the pool goes on with other connections
    assert (await postgres_store.list_jobs()).total == 1
