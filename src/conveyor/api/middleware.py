"""Per-request context as plain ASGI middleware (no per-request task or body copy).

It picks the trace id (X-Trace-Id, else W3C traceparent, else a new one), echoes it on the
response, adds SEED.md's security headers, caps request bodies (413), and writes one
`http_request` log line without the query string (which may hold an API key).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.logging import bind_context, get_logger

log = get_logger("conveyor.api")

trace_id_var: ContextVar[str | None] = ContextVar("conveyor_trace_id", default=None)

_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def pick_trace_id(headers: Headers) -> str:
    given = headers.get("x-trace-id")
    if given and _TRACE_ID.match(given):
        return given
    parent = headers.get("traceparent")
    if parent:
        match = _TRACEPARENT.match(parent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        trace_id = pick_trace_id(headers)
        token = trace_id_var.set(trace_id)
        try:
            with bind_context(traceId=trace_id):
                if scope["type"] == "websocket":
                    await self.app(scope, receive, send)
                else:
                    await self._http(scope, receive, send, headers, trace_id)
        finally:
            trace_id_var.reset(token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, trace_id: str
    ) -> None:
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers["X-Trace-Id"] = trace_id
                for name, value in SECURITY_HEADERS.items():
                    response_headers.setdefault(name, value)
            await send(message)

        length = headers.get("content-length")
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
