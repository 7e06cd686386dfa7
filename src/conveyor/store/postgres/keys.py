"""API keys on PostgreSQL: made, found by id, listed and revoked (only their hashes are
kept), each one statement in autocommit."""

from __future__ import annotations

from typing import Any

from conveyor.errors import KeyNotFound
from conveyor.keys import ApiKey
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.rows import fetch


def _key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(id=row["id"], hash=row["hash"], role=row["role"], tenant=row["tenant"],
                  name=row["name"], created_at=row["created_at"],
                  revoked_at=row["revoked_at"])


async def create_key(conn: Conn, key: ApiKey) -> ApiKey:
    [row] = await fetch(conn, sql.CREATE_KEY,
                        (key.id, key.hash, key.role, key.tenant, key.name), False)
    return _key(row)


async def find_key(conn: Conn, key_id: str) -> ApiKey | None:
    rows = await fetch(conn, sql.FIND_KEY, (key_id,))
    return _key(rows[0]) if rows else None


async def list_keys(conn: Conn) -> list[ApiKey]:
    return [_key(row) for row in await fetch(conn, sql.LIST_KEYS, None, False)]


async def revoke_key(conn: Conn, key_id: str) -> ApiKey:
    rows = await fetch(conn, sql.REVOKE_KEY, (key_id,), False)
    if not rows:
        raise KeyNotFound(f"no API key with id {key_id!r}")
    return _key(rows[0])
