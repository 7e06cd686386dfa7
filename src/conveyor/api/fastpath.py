"""`POST /jobs` without FastAPI's per-request machinery, for the requests it can answer alone.

A submission is the one request clients send in bulk, and FastAPI spends most of its CPU on
machinery around it: routing through every router, the content-type parse, seven dependencies
solved one by one, and the response model validated again before it is serialized. This
middleware answers the same request itself when it is plainly valid: its key may write (it
was checked before, by `conveyor.api.auth`), `X-Tenant-Id` and `Idempotency-Key` are absent or
valid (and the tenant is the key's, for a tenant's key), the body is JSON by
FastAPI's content-type rule and a valid `SubmitJob`. Then it does what the route does
(`conveyor.api.jobs.create_job`), maps errors with the app's own handlers
(`conveyor.api.errors`) and serializes the job as `JobOut` (`conveyor.wire.job_out_json`), so
the answer is the route's, byte for byte.

Anything else goes to the app unchanged, with the body it read replayed (and a body-limit
error raised again at the same point), so every refusal keeps the exact status and shape the
route, its dependencies and FastAPI give it. The route stays the definition of the
operation: the OpenAPI document, the validation errors, the refusals.

Lives inside `RequestContextMiddleware` and `AuthMiddleware`: trace ids, security headers, the
body cap, authentication and the request log line apply as for every route.
"""

from __future__ import annotations

import email.message
import json
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.deps import valid_idempotency_key, valid_tenant
from conveyor.api.errors import domain_error_response, http_error_response
from conveyor.api.jobs import create_job
from conveyor.api.middleware import first_headers
from conveyor.api.openapi import route_path
from conveyor.errors import ConveyorError
from conveyor.keys import Principal
from conveyor.wire import SubmitJob, job_out_json

_validate_submit = SubmitJob.__pydantic_validator__.validate_python


_HEADERS = frozenset({b"content-type", b"x-tenant-id", b"idempotency-key"})


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """FastAPI's rule for a JSON body: `application/json` or `application/*+json`."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class SubmitFastPath:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or route_path(scope) != "/jobs"):
            await self.app(scope, receive, send)
            return
        settings = self.state.settings
        found = first_headers(scope, _HEADERS)
        content_type = found.get(b"content-type")
        idempotency_key = found.get(b"idempotency-key")
        tenant = _tenant(scope.get("state", {}).get("principal"), found.get(b"x-tenant-id"))
        if (content_type is None or not _is_json(content_type) or tenant is None
                or (idempotency_key is not None and not valid_idempotency_key(idempotency_key))):
            await self.app(scope, receive, send)
            return

        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the body cap: raised again where the app reads it
            await self.app(scope, _replay(messages, receive, exc), send)
            return
        body = _parse(messages)
        if body is None:
            await self.app(scope, _replay(messages, receive), send)
            return

        try:
            result = await create_job(body, self.state.store, settings, self.state.tasks,
                                      tenant=tenant, idempotency_key=idempotency_key)
        except HTTPException as exc:
            await http_error_response(exc)(scope, receive, send)
            return
        except ConveyorError as exc:
            await domain_error_response(exc)(scope, receive, send)
            return
        content = job_out_json(result.job, checked=result.created,
                               unique_hit=result.unique_hit)
        await send({"type": "http.response.start", "status": 201 if result.created else 200,
                    "headers": [(b"content-length", str(len(content)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": content})


def _tenant(principal: Principal | None, header: str | None) -> str | None:
    """The tenant to submit for, when this path may answer: a key that may write, and a
    valid `X-Tenant-Id` that a tenant's key does not contradict. None: the route answers
    (with its 400, 401 or 403)."""
    if principal is None or not principal.writes:
        return None
    if principal.tenant is not None:
        return principal.tenant if not header or header == principal.tenant else None
    return valid_tenant(header)


def _parse(messages: list[Message]) -> SubmitJob | None:
    """The body as FastAPI would validate it, or None when it would not (the app answers)."""
    if messages[-1]["type"] != "http.request":
        return None  # the client went away: the app reports it as it always does
    raw = b"".join(m.get("body", b"") for m in messages) if len(messages) > 1 else (
        messages[0].get("body", b""))
    if not raw:
        return None
    try:
        data: Any = json.loads(raw)
    except ValueError:  # JSONDecodeError, and bytes that are not UTF-8/16/32
        return None
    if type(data) is not dict:
        return None
    try:
        body: SubmitJob = _validate_submit(data)
    except ValidationError:
        return None
    return body


def _replay(messages: list[Message], receive: Receive,
            error: HTTPException | None = None) -> Receive:
    """`receive` for the app: the messages already read, then the rest (or `error` again)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if error is not None:
            raise error
        return await receive()

    return replay
