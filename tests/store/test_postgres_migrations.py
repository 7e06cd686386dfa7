"""PostgreSQL schema migrations: applied once, even when several processes start together."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from conveyor.models import Ack, NewJob
from conveyor.store.migrate import load_migrations
from conveyor.store.postgres import open_postgres
from conveyor.store.postgres.migrate import migrate_postgres
from tests.pgsupport import empty_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.postgres

_MIGRATE = (
    "import asyncio, json, sys\n"
    "from conveyor.store.postgres.migrate import migrate_postgres\n"
    "print(json.dumps(asyncio.run(migrate_postgres(sys.argv[1]))))\n"
)


@pytest.fixture
def empty_url() -> Iterator[str]:
    with empty_postgres_database() as url:
        yield url


async def _schema(url: str) -> list[tuple[object, ...]]:
    """Tables, columns, types and indexes: what `pg_dump --schema-only` would differ on."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " UNION ALL SELECT tablename, indexname, indexdef, '', '' FROM pg_indexes"
            " WHERE schemaname = 'public' ORDER BY 1, 2"
        )
        return await cur.fetchall()


async def test_several_processes_migrating_at_once_apply_each_version_once(
    empty_url: str,
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE,
            empty_url,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [await asyncio.wait_for(p.communicate(), 60) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err.decode() for _, err in outputs]
    applied = [json.loads(out) for out, _ in outputs]
    versions = [m.version for m in load_migrations("postgres")]
    assert sorted(applied, key=len) == [[]] * 3 + [versions]
    async with await psycopg.AsyncConnection.connect(empty_url) as conn:
        cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in await cur.fetchall()] == versions


async def test_open_migrates_an_empty_database_like_the_test_template(empty_url: str) -> None:
    store = await open_postgres(empty_url)
    await store.close()
    assert await migrate_postgres(empty_url) == []  # a second start has nothing to do
    with fresh_postgres_database() as cloned:
        assert await _schema(empty_url) == await _schema(cloned)


async def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations("postgres")]
    assert versions == list(range(1, len(versions) + 1))


async def test_running_processes_survive_a_migration_that_adds_columns() -> None:
    """Prepared statements name their columns: after `ALTER TABLE … ADD COLUMN` (a newer
    version's migration during a rolling deploy) the old process keeps working."""
    with fresh_postgres_database() as url:
        store = await open_postgres(url)
        try:
            job = (await store.submit(NewJob("text", {"text": "x"}))).job
            for _ in range(3):  # prepared on first use
                await store.get(job.id)
                await store.events_after(0)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute("ALTER TABLE jobs ADD COLUMN added_later integer")
                await conn.execute("ALTER TABLE job_events ADD COLUMN added_later integer")
            assert (await store.get(job.id)).id == job.id
            [lease] = await store.lease("w", ["default"], 1, 60)
            assert await store.finish([Ack(lease)], "w") == [True]
            assert [e.type.value for e in await store.events_after(0)][-1] == "job_succeeded"
            assert (await store.submit(NewJob("text", {"text": "y"}))).created
        finally:
            await store.close()
