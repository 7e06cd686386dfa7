"""Schema migrations for PostgreSQL: `migrations/postgres/NNNN_*.sql`, each applied once.

Several processes may start at the same moment (an API and three workers after a deploy), so
the whole check-and-apply runs under a session-level advisory lock: the first process
migrates, the others wait on the lock and then find nothing left to do. Each file runs in its
own transaction together with its `schema_migrations` row, so a failed file leaves no trace
and is retried on the next start.
"""

from __future__ import annotations

from typing import Any

import psycopg

from conveyor.store.migrate import check_applied, load_migrations

MIGRATION_LOCK_KEY = 7165066986957401447
"""pg_advisory_lock key held while migrating ("conveymg"); advisory locks are per database."""


async def migrate(conn: psycopg.AsyncConnection[Any]) -> list[int]:
    """Apply pending migrations on `conn` (which must be in autocommit mode).

    Returns the versions applied by this call; an empty list when another process got there
    first or the schema is current.
    """
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    # A migration may rewrite a big table; the pool's statement timeout is not meant for it.
    await conn.execute("SET statement_timeout = 0")
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {int(row[0]) for row in await cur.fetchall()}
        applied: list[int] = []
        for migration in load_migrations("postgres"):
            if migration.version in done:
                continue
            async with conn.transaction():
                # No parameters: psycopg sends the file with the simple query protocol, which
                # accepts several statements in one string.
                await conn.execute(migration.sql.encode("utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied.append(migration.version)
        return applied
    finally:
        if not conn.closed:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


async def migrate_postgres(conninfo: str) -> list[int]:
    """Open a short-lived connection to `conninfo` and migrate it (`conveyor migrate`)."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        return await migrate(conn)


async def check_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raise `SchemaOutdated` unless every migration is applied; changes nothing."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    applied: list[int] = []
    if row is not None and row[0]:
        cur = await conn.execute("SELECT version FROM schema_migrations")
        applied = [int(r[0]) for r in await cur.fetchall()]
    check_applied("postgres", applied)
