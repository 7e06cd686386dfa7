"""Shared fixtures. Every store test runs on SQLite and PostgreSQL (STYLE.md §5).

PostgreSQL tests skip with a clear message when no server answers, unless
CONVEYOR_REQUIRE_POSTGRES=1 (CI), where they fail instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor.store import connect_store
from conveyor.store.base import Store

DRIVERS = ["sqlite", "postgres"]


@pytest.fixture(params=DRIVERS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL for each test, per driver."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/conveyor.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await connect_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that only make sense on PostgreSQL."""
    from tests.pgsupport import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_store(postgres_url: str) -> AsyncIterator[Store]:
    opened = await connect_store(postgres_url)
    try:
        yield opened
    finally:
        await opened.close()
