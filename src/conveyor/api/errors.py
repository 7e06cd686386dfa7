"""One JSON error shape for every failure: `{"error": {"code", "message", "trace_id", …}}`.

Domain errors map to their status here and nowhere else; anything unexpected becomes a
generic 500 without internals (the details go to the log with the trace id).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from conveyor.api.middleware import trace_id_var
from conveyor.errors import (
    ConveyorError,
    Forbidden,
    IdempotencyConflict,
    InvalidPayload,
    InvalidSubmission,
    InvalidTransition,
    JobNotFound,
    KeyNotFound,
    RateLimited,
    ScheduleExists,
    ScheduleNotFound,
    StoreUnavailable,
)
from conveyor.logging import get_logger

log = get_logger("conveyor.api")

STORE_RETRY_AFTER_SEC = 5

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "trace_id": trace_id_var.get()}
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def rate_limited_response(exc: RateLimited) -> JSONResponse:
    seconds = max(1, math.ceil(exc.retry_after))
    return error_response(429, "rate_limited", exc.message,
                          headers={"Retry-After": str(seconds)}, retry_after=seconds)


def domain_error_response(exc: ConveyorError) -> JSONResponse:
    if isinstance(exc, RateLimited):
        return rate_limited_response(exc)
    if isinstance(exc, JobNotFound | ScheduleNotFound | KeyNotFound):
        return error_response(404, "not_found", exc.message)
    if isinstance(exc, Forbidden):
        return error_response(403, "forbidden", exc.message)
    if isinstance(exc, ScheduleExists):
        return error_response(409, "conflict", exc.message)
    if isinstance(exc, IdempotencyConflict):
        return error_response(409, "idempotency_conflict", exc.message)
    if isinstance(exc, InvalidPayload):
        return error_response(422, "invalid_payload", exc.message)
    if isinstance(exc, InvalidSubmission):
        return error_response(422, "invalid_request", exc.message)
    if isinstance(exc, InvalidTransition):
        return error_response(409, "invalid_transition", exc.message)
    if isinstance(exc, StoreUnavailable):
        log.warning("store_unavailable", error=exc.message)
        return error_response(503, "store_unavailable", "the job store is unavailable",
                              headers={"Retry-After": str(STORE_RETRY_AFTER_SEC)},
                              retry_after=STORE_RETRY_AFTER_SEC)
    log.error("store_error", error=exc.message, exc_info=exc)
    return error_response(500, "internal", "internal error")


_UNPARSABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body it cannot even decode (bytes that are not UTF-8)."""


def http_error_response(exc: HTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        # An invalid body, like malformed JSON: 422, as the document says of every body (a
        # route without parameters documents no 400).
        return error_response(422, "invalid_request", "request body must be JSON text "
                              "(UTF-8) with Content-Type: application/json")
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail),
                          headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    """The handlers are the functions above, so a path that answers without FastAPI's
    routing (`conveyor.api.fastpath`) maps errors exactly as they do."""

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        return rate_limited_response(exc)

    @app.exception_handler(ConveyorError)
    async def domain_error(request: Request, exc: ConveyorError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""),
             "type": error.get("type", "")}
            for error in exc.errors()
        ]
        in_body = any(d["loc"][:1] == ["body"] for d in details)
        first = details[0] if details else {"loc": [], "msg": "invalid request", "type": ""}
        where = ".".join(str(part) for part in first["loc"][1:])
        if not where:
            message = "request body must be a JSON object (Content-Type: application/json)"
        else:
            message = f"{where}: {first['msg']}"
        return error_response(422 if in_body else 400, "invalid_request", message,
                              details=details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return http_error_response(exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return error_response(500, "internal", "internal error")
