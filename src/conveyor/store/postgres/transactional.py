"""Submitting jobs on the application's own PostgreSQL connection, inside its transaction: the
jobs exist only if that transaction commits, and workers are woken at its commit (the NOTIFY
is part of it).

The statements and the logic are the driver's own (`producers.submit_many`, whose
transactions become savepoints inside the application's), run through a thin adapter around
the application's connection: a psycopg `AsyncConnection`, or a plain (blocking) `Connection`,
whose calls never suspend, so the same coroutine is simply run to its end without a loop.
Rows are read through dict-row cursors and nothing is prepared, so the application's
connection keeps its own row factory and works behind a transaction-mode pooler.

The price of writing in someone else's transaction: the event lock (see `events.py`) is
taken by the submit and held until that transaction ends, so every other event-writing commit
in the cluster waits for it. Enqueue as the last step of the transaction, and keep what
follows short.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from conveyor.errors import IdempotencyConflict, StoreError
from conveyor.models import NewJob, RateLimit, SubmitResult
from conveyor.store import rules
from conveyor.store.postgres import producers

T = TypeVar("T")

Params = Sequence[object] | Mapping[str, object] | None


class _Cursor:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    async def fetchall(self) -> list[dict[str, Any]]:
        return self._rows

    async def fetchone(self) -> dict[str, Any] | None:
        return self._rows[0] if self._rows else None


class _Async:
    """The driver's view of an application's `psycopg.AsyncConnection`."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, query: str, params: Params = None,
                      prepare: bool | None = None) -> _Cursor:
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params, prepare=False)
            return _Cursor(await cur.fetchall() if cur.description else [])

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield

    def cursor(self) -> psycopg.AsyncCursor[Any]:
        """For a big batch's COPY (`events.copy_rows`)."""
        return self._conn.cursor()


class _Blocking:
    """The same view of a plain `psycopg.Connection`: each call returns without suspending."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    async def execute(self, query: str, params: Params = None,
                      prepare: bool | None = None) -> _Cursor:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params, prepare=False)
            return _Cursor(cur.fetchall() if cur.description else [])

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        with self._conn.transaction():
            yield

    def cursor(self) -> _BlockingCursor:
        """For a big batch's COPY (`events.copy_rows`)."""
        return _BlockingCursor(self._conn)


class _BlockingCursor:
    """The part of an async cursor a COPY uses, over a blocking connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    @contextlib.asynccontextmanager
    async def copy(self, statement: str) -> AsyncIterator[_BlockingCopy]:
        with self._conn.cursor() as cur, cur.copy(statement) as copy:
            yield _BlockingCopy(copy)


class _BlockingCopy:
    def __init__(self, copy: psycopg.Copy) -> None:
        self._copy = copy

    def set_types(self, types: Sequence[str]) -> None:
        self._copy.set_types(types)

    async def write_row(self, row: Sequence[object]) -> None:
        self._copy.write_row(row)


def _run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (every await is on `_Blocking`)."""
    try:
        coro.send(None)
    except StopIteration as finished:
        result: T = finished.value
        return result
    coro.close()
    raise RuntimeError("a blocking submit suspended")


def _translated(exc: psycopg.Error) -> StoreError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return IdempotencyConflict()
    return StoreError(f"postgres: {exc}")


async def submit_on(
    conn: psycopg.AsyncConnection[Any], jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """`submit_many` on the application's async connection, in its transaction."""
    rules.check_new_jobs(jobs)
    try:
        return await producers.submit_many(_Async(conn), jobs, rate)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise _translated(exc) from exc


def submit_on_blocking(
    conn: psycopg.Connection[Any], jobs: Sequence[NewJob], rate: RateLimit | None
) -> list[SubmitResult]:
    """`submit_many` on the application's blocking connection, in its transaction."""
    rules.check_new_jobs(jobs)
    try:
        return _run_to_end(producers.submit_many(_Blocking(conn), jobs, rate))  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise _translated(exc) from exc
