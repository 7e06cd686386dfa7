"""Structured JSON logs: one line per event, with the trace id of the request or job.

Keys follow SEED.md: `event`, `jobId`, `traceId`, plus `tenant` and `worker` where known.
Bind per-request or per-job fields with `bind_context`; they flow through `await`s because
structlog keeps them in context variables. Library logs (uvicorn) go through the same JSON
renderer.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from structlog.contextvars import STRUCTLOG_KEY_PREFIX, STRUCTLOG_KEY_PREFIX_LEN
from structlog.typing import EventDict, WrappedLogger

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
]


def _fallback(value: Any) -> Any:
    """What `structlog.processors.JSONRenderer` does with a value `json` cannot write."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


_ENCODE = json.JSONEncoder(default=_fallback).encode
_LEVEL_ALIASES = {"warn": "warning", "exception": "error"}


def render_json(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
    """`_SHARED`, `format_exc_info` and `JSONRenderer()` in one step, with the same output:
    the context variables, `level`, `ts`, then the line as `json.dumps` writes it. A request
    logs one or two lines, so the chain's calls and its new JSON encoder per line were a
    measurable part of a request's CPU."""
    context = contextvars.copy_context()
    for var in context:
        name = var.name
        if name.startswith(STRUCTLOG_KEY_PREFIX):
            value = context[var]
            if value is not Ellipsis:
                event_dict.setdefault(name[STRUCTLOG_KEY_PREFIX_LEN:], value)
    event_dict["level"] = _LEVEL_ALIASES.get(method_name, method_name)
    event_dict["ts"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if "exc_info" in event_dict:
        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    return _ENCODE(event_dict)


def configure_logging(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[render_json],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # We log each request ourselves (without query strings, which may hold an API key).
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def context_field(key: str) -> contextvars.ContextVar[Any]:
    """The context variable behind `bind_context(key=…)`, for a hot path to `set` and `reset`
    itself (a request's trace id) without the context manager's cost."""
    tokens = structlog.contextvars.bind_contextvars(**{key: None})
    structlog.contextvars.reset_contextvars(**tokens)
    return tokens[key].var


@contextmanager
def bind_context(**fields: Any) -> Iterator[None]:
    """Attach fields (e.g. traceId, jobId) to every log line inside the block."""
    tokens = structlog.contextvars.bind_contextvars(
        **{key: value for key, value in fields.items() if value is not None}
    )
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
