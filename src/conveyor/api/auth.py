"""Authentication, first: who a request acts as, decided before routing, parameters or body.

`AuthMiddleware` runs outside the app's routing, so an unauthenticated request is a 401
whatever its body or parameters hold (a dependency would run only after FastAPI had parsed
the body, and answered 422 for a malformed one). Public, without a key: `/health`, the
OpenAPI document and its browsable docs (`/openapi.json`, `/docs`, `/redoc`: they describe
the API and hold no data), `OPTIONS` (CORS preflights carry no credentials) and the
dashboard's static files (the dashboard asks for a key in the browser). Every other route
needs a key when API_KEY is set; with it unset, auth is off and every request is an admin,
as SEED.md has it.

A key is API_KEY itself (an admin), or one of the stored keys (`conveyor.keys`), found by its
public id and cached for `CACHE_SEC`, so a request costs no extra query and a revoked key
stops working within that long on every API process. The request's `Principal` goes into
`request.state.principal`, read by the routes through `deps.PrincipalDep`.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from urllib.parse import parse_qs

from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.datastructures import State
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.api.errors import error_response
from conveyor.api.middleware import first_headers
from conveyor.api.openapi import route_path
from conveyor.errors import StoreUnavailable
from conveyor.keys import ADMIN, ApiKey, Principal, key_id_of, matches

CACHE_SEC = 2.0
"""How long a stored key's record is trusted before it is read again (revocation delay)."""

_CACHE_MAX = 10_000
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                          "/redoc"})
_API_KEY = frozenset({b"x-api-key"})


class Authenticator:
    """X-API-Key to `Principal`: API_KEY, or a stored key by its id (cached briefly)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}

    async def principal(self, given: str | None) -> Principal | None:
        """Who `given` is; None for no key, a wrong one, or a revoked one. Raises
        `StoreUnavailable` when a stored key must be read and the store is away."""
        expected: str | None = self.state.settings.api_key
        if expected is None:
            return ADMIN
        if not given:
            return None
        if hmac.compare_digest(expected.encode(), given.encode()):
            return ADMIN
        key_id = key_id_of(given)
        if key_id is None:
            return None
        record = await self._record(key_id)
        if record is None or record.revoked_at is not None or not matches(record, given):
            return None
        return Principal(record.role, record.tenant, record.id)

    async def _record(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[1] < CACHE_SEC:
            return cached[0]
        record: ApiKey | None = await self.state.store.find_key(key_id)
        if len(self._cache) >= _CACHE_MAX:  # unknown ids probed at random: forget the oldest
            del self._cache[next(iter(self._cache))]
        self._cache[key_id] = (record, now)
        return record


class AuthMiddleware:
    def __init__(self, app: ASGIApp, state: State, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.auth = Authenticator(state)
        state.authenticator = self.auth
        self._routes = routes
        self._protected: frozenset[str] | None = None

    def protected(self) -> frozenset[str]:
        """The first path segments of every route but the public ones (found once, from the
        app's own routes, so a new route is protected without being listed anywhere)."""
        if self._protected is None:
            segments = {
                _segment(context.path) for context in iter_route_contexts(list(self._routes))
                if context.path is not None and context.path not in PUBLIC_PATHS
                and isinstance(context.original_route,
                               APIRoute | APIWebSocketRoute | WebSocketRoute)}
            # The dashboard's index and its client-side fallback (`/`, `/{path}`) are files.
            self._protected = frozenset(s for s in segments if s and not s.startswith("{"))
        return self._protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if (kind == "http" and scope["method"] == "OPTIONS") or path in PUBLIC_PATHS or (
                _segment(path) not in self.protected()):
            await self.app(scope, receive, send)
            return
        given = first_headers(scope, _API_KEY).get(b"x-api-key")
        if given is None and kind == "websocket":  # browsers cannot set WebSocket headers
            given = _query_key(scope)
        try:
            principal = await self.auth.principal(given)
        except StoreUnavailable:
            if kind == "websocket":
                principal = None  # the socket is closed as unauthorized; the client retries
            else:
                await error_response(503, "store_unavailable", "the job store is unavailable",
                                     headers={"Retry-After": "5"}, retry_after=5)(
                    scope, receive, send)
                return
        if principal is None and kind == "http":
            await error_response(401, "unauthorized", "missing or invalid X-API-Key",
                                 headers={"WWW-Authenticate": "X-API-Key"})(
                scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") and len(path) > 1 else ""


def _query_key(scope: Scope) -> str | None:
    query: bytes = scope.get("query_string", b"")
    if b"api_key" not in query:
        return None
    values = parse_qs(query.decode("latin-1")).get("api_key")
    return values[0] if values else None
