"""How PostgreSQL's columns decode: psycopg already turns `uuid` into `uuid.UUID`, `jsonb`
into Python values and `timestamptz` into aware datetimes (UTC, because every connection sets
`TimeZone=UTC`), so `READ` binds identities; the conversions are shared
(`conveyor.store.rows`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from conveyor.store.rows import (
    EVENT_COLUMNS,
    JOB_COLUMNS,
    SCHEDULE_COLUMNS,
    WORKER_COLUMNS,
    RowReader,
    dumps,
)


def _same(value: Any) -> Any:
    return value


READ = RowReader(time=_same, json=_same, id=_same, token=_same, array=list)


def json_text(text: str | None) -> Jsonb | None:
    """JSON text already made by `dumps`, for a `jsonb` field of a binary COPY, which would
    otherwise encode the text itself again as one JSON string."""
    return None if text is None else Jsonb(text, dumps=_same)

async def fetch(
    conn: psycopg.AsyncConnection[dict[str, Any]],
    query: str,
    params: Sequence[object] | Mapping[str, object] | None,
    prepare: bool = True,
) -> list[dict[str, Any]]:
    """All rows of one statement. `prepare=True` for the hot statements: they are prepared
    once per connection and run with a generic plan (`plan_cache_mode=force_generic_plan`),
    which saves a millisecond of planning per call; their SQL is written so that the generic
    plan is the right one (index conditions, no value-dependent choices)."""
    cur = await conn.execute(query, params, prepare=prepare)
    return await cur.fetchall()


__all__ = [
    "EVENT_COLUMNS", "JOB_COLUMNS", "READ", "SCHEDULE_COLUMNS", "WORKER_COLUMNS", "dumps", "fetch",
    "json_text",
]
