"""`open_store(url)`: picks a driver by URL scheme; drivers are imported lazily."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conveyor.errors import StoreUnavailable
from conveyor.logging import get_logger
from conveyor.store.base import Store, ThroughputBucket, WorkerInfo

log = get_logger("conveyor.store")

__all__ = [
    "Store",
    "ThroughputBucket",
    "WorkerInfo",
    "connect_store",
    "connect_store_patiently",
    "open_store",
]


async def connect_store(url: str, *, producer: bool = False) -> Store:
    """Open (and migrate) the store at `url`; the caller must `await store.close()`.
    `producer`: only to submit and read jobs (see `conveyor.producer`): the schema is checked
    instead of migrated, and on PostgreSQL the pool is small and nothing LISTENs."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()  # postgresql+psycopg:// too
    if scheme == "sqlite":
        from conveyor.store.sqlite import SqliteStore, sqlite_path_from_url

        return await SqliteStore.open(sqlite_path_from_url(url), producer=producer)
    if scheme in ("postgresql", "postgres"):
        try:
            from conveyor.store.postgres import open_postgres
        except ModuleNotFoundError as exc:  # the driver is an extra
            if exc.name not in ("psycopg", "psycopg_pool"):
                raise
            raise ModuleNotFoundError(
                f"a PostgreSQL DATABASE_URL needs the driver: pip install 'conveyor[postgres]' "
                f"({exc})", name=exc.name) from exc

        postgres_store: Store = await open_postgres(url, producer=producer)
        return postgres_store
    raise ValueError(f"unsupported DATABASE_URL scheme: {scheme!r} (use sqlite or postgresql)")


async def connect_store_patiently(url: str, give_up_after_sec: float = 300.0) -> Store:
    """`connect_store`, retried with backoff while the database is unreachable, so processes
    started before their database (or during its restart) wait for it instead of crashing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_sec
    delay = 0.2
    while True:
        try:
            return await connect_store(url)
        except StoreUnavailable as exc:
            if loop.time() + delay > deadline:
                raise
            log.warning("store_unavailable", error=str(exc), retry_in=delay,
                        message="waiting for the database")
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)


@asynccontextmanager
async def open_store(url: str, *, patient: bool = False) -> AsyncIterator[Store]:
    store = await (connect_store_patiently(url) if patient else connect_store(url))
    try:
        yield store
    finally:
        await store.close()
