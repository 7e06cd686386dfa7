"""Schema migrations: numbered SQL files per driver, applied in order, each exactly once.

Files live in `migrations/<driver>/NNNN_name.sql`. A fresh database and an upgraded one end
with the same schema because both run the same files.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(driver: str) -> list[Migration]:
    """The driver's migrations in version order."""
    folder = resources.files("conveyor.store").joinpath("migrations", driver)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions for {driver}: {versions}")
    return found


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


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations under one write lock; concurrent starters wait, then see them
    applied. Returns the versions applied now."""
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
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise
