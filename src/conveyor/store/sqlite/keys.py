"""API keys on SQLite: made, found by id, listed and revoked (only their hashes are kept).
Writes run in one `BEGIN IMMEDIATE` transaction on the writer thread, reads on a snapshot;
`now` is the store's clock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from conveyor.errors import KeyNotFound
from conveyor.keys import ApiKey

_COLUMNS = "id, hash, role, tenant, name, created_at, revoked_at"


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"], hash=row["hash"], role=row["role"], tenant=row["tenant"],
        name=row["name"], created_at=datetime.fromtimestamp(row["created_at"], UTC),
        revoked_at=None if row["revoked_at"] is None
        else datetime.fromtimestamp(row["revoked_at"], UTC),
    )


def create_key(conn: sqlite3.Connection, now: float, key: ApiKey) -> ApiKey:
    row = conn.execute(
        "INSERT INTO api_keys (id, hash, role, tenant, name, created_at)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        (key.id, key.hash, key.role, key.tenant, key.name, now)).fetchone()
    return _key(row)


def find_key(conn: sqlite3.Connection, now: float, key_id: str) -> ApiKey | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    return None if row is None else _key(row)


def list_keys(conn: sqlite3.Connection, now: float) -> list[ApiKey]:
    return [_key(row) for row in conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")]


def revoke_key(conn: sqlite3.Connection, now: float, key_id: str) -> ApiKey:
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"
        f" RETURNING {_COLUMNS}", (now, key_id)).fetchone()
    if row is None:
        raise KeyNotFound(f"no API key with id {key_id!r}")
    return _key(row)
