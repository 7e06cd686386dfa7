"""What a payload (or a result) may hold: the JSON that both stores and the API can keep and
give back unchanged.

JSON parsers accept more than the stores can hold. PostgreSQL's `jsonb` refuses the NUL
character and has no NaN or Infinity; Python's `json` reads `NaN`, `Infinity` and `1e400`
(as inf) without complaint and SQLite would keep them as text that is no longer JSON; lone
surrogates (`"\\ud800"`) parse but cannot be encoded as UTF-8; and the response model cannot
serialize a value nested 255 levels deep. A value that passed the stores' writes but not the
API's reads would break every page that lists it, so the limits are checked once, here, at
every way in: REST submits (single and batch), the store's own submit (the Python producer
path), a retry from the DLQ (which copies a stored payload), and a handler's result.

The limits (documented in the README's API section):

- nesting: at most `MAX_DEPTH` levels (the payload object itself is level 1);
- strings and keys: valid Unicode, without the NUL character U+0000;
- numbers: finite (no NaN, no Infinity, nothing that overflows a double when read);
- types: objects with string keys, arrays (lists or tuples), strings, numbers, booleans,
  null.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.errors import InvalidPayload

MAX_DEPTH = 64
"""Levels of nesting a payload or result may have; real payloads rarely pass 10."""

_MAX_INT_BITS = 14_000
"""Python prints integers of at most 4,300 digits (about 14,280 bits); stay below that."""

UNREADABLE_KEY = "$conveyor_unreadable"
"""The key of the stand-in object shown for a stored value that breaks these limits."""


def check_json(value: Any, what: str = "payload") -> None:
    """Raise `InvalidPayload` (naming `what` and the place) unless `value` is within limits."""
    problem = find_problem(value)
    if problem is not None:
        raise InvalidPayload(f"{what}{problem}")


def find_problem(value: Any) -> str | None:
    """Where and why `value` breaks the limits (e.g. `.a[2]: contains the NUL character`),
    or None. Iterative, so a deeply nested value cannot exhaust the interpreter's stack.
    On the submit path for every job: the walk keeps no paths, and only a value with a
    problem is walked again to name the place."""
    if _walk(value, paths=False) is None:
        return None
    return _walk(value, paths=True)


def _walk(value: Any, paths: bool) -> str | None:
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                return f"{where}: nests more than {MAX_DEPTH} levels deep"
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{where}: object keys must be strings"
                problem = _text_problem(key)
                if problem:
                    return f"{where}: key {key[:40]!r} {problem}"
                stack.append((child, f"{where}.{key}" if paths else "", depth + 1))
        elif isinstance(item, list | tuple):  # a tuple is written as an array
            if depth > MAX_DEPTH:
                return f"{where}: nests more than {MAX_DEPTH} levels deep"
            stack.extend((child, f"{where}[{i}]" if paths else "", depth + 1)
                         for i, child in enumerate(item))
        elif isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return f"{where}: {problem}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{where}: numbers must be finite (no NaN or Infinity)"
        elif isinstance(item, int):
            if item.bit_length() > _MAX_INT_BITS:
                return f"{where}: integers may have at most 4,300 digits"
        elif item is not None:
            return f"{where}: {type(item).__name__} is not a JSON value"
    return None


def readable(value: Any) -> Any:
    """`value` itself, or (for a row stored before these limits) a small stand-in object
    that says why it cannot be shown: a read must never fail because of one stored row."""
    problem = find_problem(value)
    if problem is None:
        return value
    return {UNREADABLE_KEY: f"the stored value cannot be shown{problem}"}


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains the NUL character (U+0000), which the stores cannot hold"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def safe_text(text: str) -> str:
    """Text the stores can hold, for messages we write ourselves (a handler's error): lone
    surrogates become "?" and NUL characters are dropped."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
