"""The HTTP surface as clients see it: the OpenAPI document, and what a path answers to a
method it does not have. Both come from the one routing table, so they cannot disagree.

The document lists every status an operation can answer (tests/api/test_openapi.py produces
each of them and fails on one listed but never produced, or produced but not listed):

- Statuses the framework produces are derived from the operation's shape by
  `install_openapi`, so a new route cannot forget them: 400 for an operation with query,
  path or header parameters (errors.py answers 400 for those), 401 for one with the
  `ApiKey` security requirement, 413 and 422 for one with a body. FastAPI's automatic
  422 "Validation Error" (`HTTPValidationError`) is removed: the app never sends that shape.
- Statuses the handler produces are declared on the route with `errors(...)` and
  `error(status, description)`: 404, 409, 429, 503, and extra successes such as 200 for an
  idempotent replay.
- 403 is listed on every operation that depends on a dependency marked with `refuses`
  (a read-only key's write, a tenant key's admin route, another tenant named): derived from
  the routes' dependency trees, so a new route that takes `WriterDep` lists it.
- 500 is never listed: it is a bug, not an answer.

`AllowedMethodsMiddleware` answers `OPTIONS` (204 with `Allow`) and methods a path does not
have (405 with the same `Allow`), instead of Starlette's 405 whose `Allow` names only the
first route that matched the path. OPTIONS is left out of the document on purpose (it is
the same for every path and generated clients need no method for it); the description says
how it behaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Router, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.api.errors import error_response
from conveyor.wire import ErrorOut

API_KEY_SCHEME = "ApiKey"
API_KEY_HEADER = "X-API-Key"

DESCRIPTION = f"""A distributed task queue and job processor.

**Authentication.** When the server has `API_KEY` set, every operation with the `{API_KEY_SCHEME}`
security requirement needs the `{API_KEY_HEADER}` header and answers 401 without it (or with a
wrong one). `/health`, this document, `/docs` and the dashboard's files are public. The live
feed `/ws` is a WebSocket and not described here: it takes the key as `?api_key=` (browsers
cannot set headers on a WebSocket) or as `{API_KEY_HEADER}`, and closes with code 4401 when it
is missing or wrong.

**Errors** share one body, `ErrorOut`: `{{"error": {{"code", "message", "trace_id", …}}}}`.
Invalid query, path or header parameters answer 400; an invalid body answers 422; a body
larger than `MAX_BODY_BYTES` answers 413 on any route (listed on the operations that take a
body); an unreachable store answers 503 with `Retry-After`; 429 carries `Retry-After` too.
An unexpected failure answers 500 with the code `internal`: that is a bug, so no operation
lists it. Every response carries an `X-Trace-Id` header (taken from `X-Trace-Id` or
`traceparent` when the request has one).

**Methods.** `OPTIONS` on any existing path answers 204 with an `Allow` header naming every
method the path has, plus `OPTIONS`, without needing the API key (CORS preflights carry no
credentials). A method the path does not have answers 405 with the same `Allow`. `HEAD` is
not supported on API routes (405). A path that does not exist answers 404.
"""

Responses = dict[int | str, dict[str, Any]]

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}

_ERRORS: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("A query, path or header parameter is invalid.", None),
    403: ("The API key may not do this (see the description).", None),
    401: (f"The server has API_KEY set and {API_KEY_HEADER} is missing or wrong.", {
        "WWW-Authenticate": {"description": "Names the expected header.", "required": True,
                             "schema": {"type": "string"}},
    }),
    404: ("No job has this id.", None),
    409: ("The request conflicts with the job's state.", None),
    413: ("The body is larger than MAX_BODY_BYTES.", None),
    422: ("The body is not a JSON object of the expected shape, or its values are refused.",
          None),
    429: ("The tenant's per-minute rate limit is used up.", RETRY_AFTER),
    503: ("The job store cannot be reached.", RETRY_AFTER),
}

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def error(status: int, description: str | None = None) -> Responses:
    """One error response with the app's error body, for a route's `responses=`."""
    default, headers = _ERRORS[status]
    response: dict[str, Any] = {"model": ErrorOut, "description": description or default}
    if headers is not None:
        response["headers"] = headers
    return {status: response}


def errors(*statuses: int) -> Responses:
    """Error responses with their standard descriptions, e.g. `errors(404, 503)`."""
    combined: Responses = {}
    for status in statuses:
        combined.update(error(status))
    return combined


_REFUSAL = "_conveyor_refusal"
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def refuses(reason: str) -> Callable[[Dependency], Dependency]:
    """Mark a dependency that answers 403, and why: every operation that depends on it
    lists 403 with the reason."""
    def mark(dependency: Dependency) -> Dependency:
        setattr(dependency, _REFUSAL, reason)
        return dependency
    return mark


def _refusals(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dependency in dependant.dependencies:
        reason = getattr(dependency.call, _REFUSAL, None)
        if reason is not None and reason not in found:
            found.append(reason)
        found += [r for r in _refusals(dependency) if r not in found]
    return found


def refusals(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(method, path) → why the operation may answer 403, from its dependencies."""
    found: dict[tuple[str, str], list[str]] = {}
    for context in iter_route_contexts(app.router.routes):
        if not isinstance(context.original_route, APIRoute) or context.path_format is None:
            continue
        # The context's dependant includes the dependencies of the router it was included by.
        reasons = _refusals(context.dependant)
        for method in (context.methods or ()) if reasons else ():
            found[(method.lower(), context.path_format)] = reasons
    return found


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) return the finished document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_document(generate(), refusals(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish_document(document: dict[str, Any],
                    refused: dict[tuple[str, str], list[str]] | None = None) -> dict[str, Any]:
    """Add the framework's statuses to each operation (and 403 where `refused` says why)
    and drop FastAPI's unused 422."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in schemas:
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorOut"] = error_schema
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            reasons = (refused or {}).get((method, path))
            if reasons and "403" not in responses:
                forbidden = _response_object(403)
                forbidden["description"] = "Not for this API key: " + "; ".join(reasons) + "."
                responses["403"] = forbidden
            for key, response in list(responses.items()):
                if _is_fastapi_validation_error(response):
                    del responses[key]
            derived: list[int] = []
            if any(p.get("in") in ("query", "path", "header") for p in
                   operation.get("parameters", [])):
                derived.append(400)
            if operation.get("security"):
                derived.append(401)
            if "requestBody" in operation:
                derived += [413, 422]
            for code in derived:
                responses.setdefault(str(code), _response_object(code))
            operation["responses"] = dict(sorted(responses.items()))
    if not _mentions(document.get("paths", {}), "HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        if not _mentions(schemas, "#/components/schemas/ValidationError"):
            schemas.pop("ValidationError", None)
    return document


def _response_object(status: int) -> dict[str, Any]:
    description, headers = _ERRORS[status]
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    if headers is not None:
        response["headers"] = headers
    return response


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    return _mentions(response.get("content", {}), "#/components/schemas/HTTPValidationError")


def _mentions(value: object, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(_mentions(item, needle) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, needle) for item in value)
    return False


class AllowedMethodsMiddleware:
    """`OPTIONS` and unsupported methods, answered for the path as a whole.

    A path's resource is its first route in routing order whose pattern matches (so
    `/jobs/batch` is the batch route, not `/jobs/{job_id}` with the id "batch"); its
    methods are those of every route with the same pattern. Then:

    - `OPTIONS` answers 204 No Content with `Allow: <methods>, OPTIONS`. No API key is
      needed: CORS preflights never carry credentials, and the methods are public in the
      OpenAPI document anyway. (There is no CORS middleware today; one added later must sit
      outside this one to answer preflights with its own headers.)
    - A method the resource does not have answers 405 with the same `Allow` and the app's
      JSON error body (after authentication, which comes first for every protected path:
      `conveyor.api.auth`). (Starlette's own 405 named only the first route that matched:
      `Allow: POST` on `/jobs`.)
    - Everything else, and any path no route matches (404), goes to the app unchanged.

    Static-file mounts have GET and HEAD; other mounts and WebSocket routes are left to
    the app. Lives inside `RequestContextMiddleware`, so these answers carry trace ids.
    """

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router
        self._resources: list[_Resource] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = self.methods_for(scope)
            method = scope["method"]
            if methods is not None and method not in methods:
                allow = allow_header(methods)
                if method == "OPTIONS":
                    response = Response(status_code=204, headers={"Allow": allow})
                else:
                    response = error_response(
                        405, "method_not_allowed", f"{method} is not allowed on this path",
                        headers={"Allow": allow},
                    )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def methods_for(self, scope: Scope) -> frozenset[str] | None:
        """The methods of the path's resource; None when the app should decide."""
        if self._resources is None:  # routes are complete once requests arrive
            self._resources = _resources(self.router.routes)
        path = route_path(scope)
        for resource in self._resources:
            if resource.matches(scope, path):
                return resource.methods
        return None


def allow_header(methods: frozenset[str]) -> str:
    ordered = [m for m in _METHOD_ORDER if m in methods]
    ordered += sorted(methods - set(_METHOD_ORDER) - {"OPTIONS"})
    return ", ".join([*ordered, "OPTIONS"])


@dataclass(frozen=True, slots=True)
class _Resource:
    path_regex: re.Pattern[str] | None
    mount: Mount | None
    methods: frozenset[str] | None

    def matches(self, scope: Scope, path: str) -> bool:
        if self.mount is not None:
            return self.mount.matches(scope)[0] is not Match.NONE
        return self.path_regex is not None and self.path_regex.match(path) is not None


def _resources(routes: list[BaseRoute]) -> list[_Resource]:
    """Every route in routing order, included routers expanded (FastAPI's
    `iter_route_contexts`, which its OpenAPI generation walks too)."""
    contexts = [c for c in iter_route_contexts(routes)
                if not isinstance(c.original_route, WebSocketRoute)]
    by_pattern: dict[str, set[str]] = {}
    for context in contexts:
        if context.path is not None and context.methods:
            by_pattern.setdefault(context.path, set()).update(context.methods)
    resources: list[_Resource] = []
    for context in contexts:
        route = context.original_route
        if isinstance(route, Mount):
            static = isinstance(route.app, StaticFiles)
            resources.append(_Resource(None, route, frozenset({"GET", "HEAD"}) if static else None))
        elif context.path is not None:
            methods = by_pattern.get(context.path)
            resources.append(_Resource(getattr(context, "path_regex", None), None,
                                       None if methods is None else frozenset(methods)))
    return resources


def route_path(scope: Scope) -> str:
    """The path routing sees: without the `root_path` a proxy mounted the app under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path):][:1] in ("", "/"):
        return path[len(root_path):]
    return path


__all__ = [
    "API_KEY_HEADER",
    "API_KEY_SCHEME",
    "DESCRIPTION",
    "RETRY_AFTER",
    "AllowedMethodsMiddleware",
    "Responses",
    "allow_header",
    "error",
    "errors",
    "install_openapi",
    "route_path",
]
