"""Raw SQL for tests that must move time: pushing a job's `run_at` into the past is how a
test skips a backoff without waiting for it (STYLE.md §5: force expiry in SQL, never sleep)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime

from conveyor.store.base import Store


async def make_runnable_now(store: Store, job_id: uuid.UUID) -> None:
    """Move a pending job's run_at an hour into the past."""
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE jobs SET run_at = run_at - 7200 WHERE id = ?",
                             (str(job_id),))
        await asyncio.to_thread(run)
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        await conn.execute(
            "UPDATE jobs SET run_at = run_at - interval '2 hours' WHERE id = %s", (job_id,)
        )


def store_url(store: Store) -> str:
    url = getattr(store, "url", None)
    if not isinstance(url, str):
        raise TypeError(f"{type(store).__name__} exposes no .url for raw test SQL")
    return url


def overwrite_payload_sync(database_url: str, job_id: str, payload_json: str) -> None:
    """Store `payload_json` as a job's payload behind the API's back: how rows written before
    the payload limits existed look (`tests/api/test_payload_limits.py`)."""
    if database_url.startswith("sqlite"):
        from conveyor.store.sqlite import sqlite_path_from_url

        with sqlite3.connect(sqlite_path_from_url(database_url)) as conn:
            conn.execute("UPDATE jobs SET payload = ? WHERE id = ?", (payload_json, job_id))
        return
    import psycopg

    from conveyor.store.postgres.conninfo import parse_postgres_url

    conninfo, _ = parse_postgres_url(database_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("UPDATE jobs SET payload = %s::jsonb WHERE id = %s", (payload_json, job_id))


async def run_raw(store: Store, statement: str) -> list[tuple[object, ...]]:
    """Run one statement (the same text on both drivers) beside the store, as an operator or
    a later retention job would; its rows."""
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> list[tuple[object, ...]]:
            with sqlite3.connect(path) as conn:
                return [tuple(row) for row in conn.execute(statement)]
        return await asyncio.to_thread(run)
    import psycopg

    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        cur = await conn.execute(statement)
        return [tuple(row) for row in await cur.fetchall()] if cur.description else []


async def run_at_times(store: Store, statement: str, params: Sequence[object] = ()) -> None:
    """One statement beside the store with `?` placeholders, where `ts(?)` takes epoch
    seconds as a time (a number on SQLite, `to_timestamp` on PostgreSQL): how a test moves
    jobs and events into a given minute, the same text on both drivers."""
    values = [str(p) if isinstance(p, uuid.UUID) else p for p in params]
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(statement.replace("ts(?)", "?"), values)
        await asyncio.to_thread(run)
        return
    import psycopg

    text = statement.replace("ts(?)", "to_timestamp(%s)").replace("?", "%s")
    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        await conn.execute(text, list(params))


async def set_finished_at(store: Store, job_id: uuid.UUID, at: datetime) -> None:
    """Move a finished job's `finished_at` (when it ended) to `at`, behind the store's back."""
    await run_at_times(store, "UPDATE jobs SET finished_at = ts(?) WHERE id = ?",
                       [at.timestamp(), job_id])
