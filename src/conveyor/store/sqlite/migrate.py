"""Schema migrations for SQLite: `migrations/sqlite/NNNN_*.sql`, each applied once.

Every process that opens the file runs this; the check-and-apply holds SQLite's write lock
(`BEGIN IMMEDIATE`), so concurrent starters wait, then find the migrations applied. All files
run in one transaction: a failure leaves the schema as it was.
"""

from __future__ import annotations

import sqlite3

from conveyor.store.migrate import check_applied, load_migrations


def split_sqlite_statements(sql: str) -> list[str]:
    """Split a script into statements, so they can run inside one explicit transaction
    (`executescript` would commit first)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at end of migration: {buffer[:80]!r}")
    return statements


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations under one write lock; concurrent starters wait, then see them
    applied. Returns the versions applied now.

    Foreign keys are off while migrations run (a migration may rebuild a table, which SQLite
    does by copy, drop and rename) and checked before the commit."""
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before
    try:
        return _migrate(conn)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _migrate(conn: sqlite3.Connection) -> list[int]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        applied: list[int] = []
        for migration in load_migrations("sqlite"):
            if migration.version in done:
                continue
            for statement in split_sqlite_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)"
                " VALUES (?, ?, unixepoch())",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"foreign keys broken by a migration: {broken[:5]}")
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_schema(conn: sqlite3.Connection) -> None:
    """Raise `SchemaOutdated` unless every migration is applied; changes nothing."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    applied = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")] \
        if exists else []
    check_applied("sqlite", applied)
