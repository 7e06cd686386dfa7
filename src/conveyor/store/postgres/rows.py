"""How PostgreSQL's columns decode: psycopg already turns `uuid` into `uuid.UUID`, `jsonb`
into Python values and `timestamptz` into aware datetimes (UTC, because every connection sets
`TimeZone=UTC`), so `READ` binds identities; the conversions are shared
(`conveyor.store.rows`)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
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


def as_jsonb_returns(text: str) -> Any:
    """JSON text decoded as a `jsonb` column of it reads back: each object's keys in jsonb's
    order (shorter first, then by their bytes) and a float written with a positive exponent
    (1e+16 and up: integral) as the integer jsonb prints for it. So a batch that builds its
    jobs instead of reading them back returns what `get()` will."""
    return _JSONB_DECODER.decode(text)


def _jsonb_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > 1:
        pairs.sort(key=_jsonb_key)  # stable: of a repeated key the last still wins
    return dict(pairs)


def _jsonb_key(pair: tuple[str, Any]) -> tuple[int, bytes]:
    key = pair[0].encode()
    return len(key), key


def _jsonb_number(text: str) -> float | int:
    return int(Decimal(text)) if "e+" in text or "E+" in text else float(text)


_JSONB_DECODER = json.JSONDecoder(object_pairs_hook=_jsonb_object, parse_float=_jsonb_number)
"""Made once (`json.loads` with hooks builds a decoder per call)."""


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
    if params is None or not prepare:
        cur = await conn.execute(query, params, prepare=prepare)
        return await cur.fetchall()
    statement = positional(query)
    raw = psycopg.AsyncRawCursor(conn, row_factory=conn.row_factory)
    await raw.execute(statement.text, statement.values(params), prepare=True)
    return await raw.fetchall()


@dataclass(frozen=True, slots=True)
class Positional:
    """A statement in PostgreSQL's own placeholders (`$1`, `$2`, …), encoded once, and the
    order its named parameters go in."""

    text: bytes
    names: tuple[str, ...] | None
    """None: the statement took `%s` placeholders, whose values are already in order."""

    def values(self, params: Sequence[object] | Mapping[str, object]) -> Sequence[object]:
        if self.names is None:
            if isinstance(params, Mapping):
                raise TypeError("a statement with %s placeholders takes a sequence")
            return params
        if not isinstance(params, Mapping):
            raise TypeError("a statement with %(name)s placeholders takes a mapping")
        return [params[name] for name in self.names]


_PLACEHOLDER = re.compile(r"%(?:\((\w+)\)s|(s)|(%)|(.|$))")


@functools.cache  # keyed by the statement's text, whose hash the str keeps
def positional(query: str) -> Positional:
    """`query` (psycopg's `%(name)s` or `%s` placeholders, `%%` for a percent sign) as a
    `Positional`, converted once per statement.

    Why: psycopg converts a statement's placeholders on every execute and keeps the result
    only for statements up to 4,096 characters; the lease, reserve and finish statements are
    5-6.5 kB (their counters table and fences), so each call paid about 20 µs of conversion
    and hashing, a tenth of a no-op job's worker CPU. Sent as they are (`AsyncRawCursor`),
    with the same dumpers for the same values, they cost what a short statement does."""
    names: list[str] = []
    plain = 0

    def number(match: re.Match[str]) -> str:
        nonlocal plain
        name, bare, percent, other = match.groups()
        if percent:
            return "%"
        if other is not None:
            raise ValueError(f"unsupported placeholder %{other} in a statement")
        if bare:
            plain += 1
            return f"${plain}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    text = _PLACEHOLDER.sub(number, query)
    if plain and names:
        raise ValueError("a statement mixes %s and %(name)s placeholders")
    return Positional(text.encode(), None if plain or not names else tuple(names))


__all__ = [
    "EVENT_COLUMNS",
    "JOB_COLUMNS",
    "READ",
    "SCHEDULE_COLUMNS",
    "WORKER_COLUMNS",
    "as_jsonb_returns",
    "dumps",
    "fetch",
    "json_text",
    "positional",
]
