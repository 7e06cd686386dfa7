"""`open_store(url)`: picks a driver by URL scheme; drivers are imported lazily."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conveyor.store.base import Store, ThroughputBucket, WorkerInfo

__all__ = ["Store", "ThroughputBucket", "WorkerInfo", "connect_store", "open_store"]


async def connect_store(url: str) -> Store:
    """Open (and migrate) the store at `url`; the caller must `await store.close()`."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()  # postgresql+psycopg:// too
    if scheme == "sqlite":
        from conveyor.store.sqlite import SqliteStore, sqlite_path_from_url

        return await SqliteStore.open(sqlite_path_from_url(url))
    if scheme in ("postgresql", "postgres"):
        from conveyor.store.postgres import open_postgres

        postgres_store: Store = await open_postgres(url)
        return postgres_store
    raise ValueError(f"unsupported DATABASE_URL scheme: {scheme!r} (use sqlite or postgresql)")


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    store = await connect_store(url)
    try:
        yield store
    finally:
        await store.close()
