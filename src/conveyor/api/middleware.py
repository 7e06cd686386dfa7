"""Per-request context as plain ASGI middleware (no per-request task or body copy).

It picks the trace id (X-Trace-Id, else W3C traceparent, else a new one), echoes it on the
response, adds SEED.md's security headers, caps request bodies (413), and writes one
`http_request` log line without the query string (which may hold an API key).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from random import getrandbits

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.logging import context_field, get_logger

log = get_logger("conveyor.api")

trace_id_var: ContextVar[str | None] = ContextVar("conveyor_trace_id", default=None)

_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def first_headers(scope: Scope, names: frozenset[bytes]) -> dict[bytes, str]:
    """The first value of each header of `names` the request has, as Starlette reads them
    (lower-case names, latin-1 values), in one pass over the raw headers."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names and name not in found:
            found[name] = value.decode("latin-1")
    return found


def trace_id_from(given: str | None, parent: str | None) -> str:
    """X-Trace-Id if valid, else the trace id of a valid W3C traceparent, else a new one."""
    if given and _TRACE_ID.match(given):
        return given
    if parent:
        match = _TRACEPARENT.match(parent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    return new_trace_id()


def new_trace_id() -> str:
    """A random version-4 UUID as 32 hex digits, like `uuid.uuid4().hex`. From `random`, not
    `os.urandom`: a trace id is no secret, and a system call on every request releases the
    GIL to whichever thread wants it (the SQLite driver's), then waits to get it back."""
    value = getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version and variant bits
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_TRACE_CONTEXT = context_field("traceId")
_CONTEXT_HEADERS = frozenset({b"x-trace-id", b"traceparent", b"content-length"})
_SECURITY_RAW = [(name.lower().encode(), value.encode()) for name, value in
                 SECURITY_HEADERS.items()]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        found = first_headers(scope, _CONTEXT_HEADERS)
        trace_id = trace_id_from(found.get(b"x-trace-id"), found.get(b"traceparent"))
        length = found.get(b"content-length")
        token = trace_id_var.set(trace_id)
        log_token = _TRACE_CONTEXT.set(trace_id)  # bind_context(traceId=…), without its cost
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, length, trace_id)
        finally:
            _TRACE_CONTEXT.reset(log_token)
            trace_id_var.reset(token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, length: str | None, trace_id: str
    ) -> None:
        started = time.perf_counter()
        status = 0
        trace_header = (b"x-trace-id", trace_id.encode("latin-1"))

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_headers(message.get("headers", ()), trace_header)
            await send(message)

        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _send_413(send_with_headers, trace_id, self.max_body_bytes)
        else:
            received = 0

            async def capped_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        # FastAPI re-raises HTTPException from body reading; ours maps it to JSON.
                        limit = self.max_body_bytes
                        raise HTTPException(413, f"request body exceeds {limit} bytes")
                return message

            try:
                await self.app(scope, capped_receive, send_with_headers)
            except Exception as exc:
                # Inside the trace context, so the 500 and its log line carry the trace id.
                log.error("unhandled_error", path=scope["path"], exc_info=exc)
                if status:
                    raise  # the response had started: nothing sane can be sent now
                await _send_json(send_with_headers, 500, {"error": {
                    "code": "internal", "message": "internal error", "trace_id": trace_id}})
        log.info("http_request", method=scope["method"], path=scope["path"], status=status,
                 duration_ms=round((time.perf_counter() - started) * 1000, 3))


def _with_headers(
    headers: Iterable[tuple[bytes, bytes]], trace_header: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """The response's headers with X-Trace-Id set (replacing any) and the security headers
    the response does not have, appended in that order (as `MutableHeaders` would)."""
    raw = list(headers)
    names = {name for name, _ in raw}
    if trace_header[0] in names:
        first = next(i for i, (name, _) in enumerate(raw) if name == trace_header[0])
        raw = [item for i, item in enumerate(raw) if i == first or item[0] != trace_header[0]]
        raw[first] = trace_header
    else:
        raw.append(trace_header)
    raw.extend(item for item in _SECURITY_RAW if item[0] not in names)
    return raw


async def _send_413(send: Send, trace_id: str, limit: int) -> None:
    await _send_json(send, 413, {"error": {"code": "payload_too_large",
                                           "message": f"request body exceeds {limit} bytes",
                                           "trace_id": trace_id}})


async def _send_json(send: Send, status: int, content: object) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
