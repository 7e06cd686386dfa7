"""Request dependencies: the store, settings, API key check, tenant and idempotency key.

All are `async def`: FastAPI runs plain `def` dependencies on a thread pool, one thread hop
each per request, which cost a third of the submit path's CPU in the benchmarks.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from conveyor.api.openapi import API_KEY_HEADER, API_KEY_SCHEME
from conveyor.config import Settings
from conveyor.store.base import Store
from conveyor.tasks import TaskRegistry

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_tasks(request: Request) -> TaskRegistry:
    tasks: TaskRegistry = request.app.state.tasks
    return tasks


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def key_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison, so response timing does not leak the key."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


# Declared as a security scheme so the OpenAPI document (and generated clients, fuzzers)
# know the header exists; `auto_error=False` because whether it is needed depends on API_KEY.
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name=API_KEY_SCHEME,
    description="The server's API_KEY. Needed only when the server has one set.",
    auto_error=False,
)


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Security(api_key_header)],
) -> None:
    if not key_matches(settings.api_key, x_api_key):
        raise HTTPException(401, "missing or invalid X-API-Key",
                            headers={"WWW-Authenticate": "X-API-Key"})


async def tenant_header(
    x_tenant_id: Annotated[
        str | None,
        Header(description="Tenant for rate limits. Defaults to `default` (also when empty).",
               # Documented only: checked below, for the error message.
               json_schema_extra={"pattern": f"^(?:{_TENANT.pattern[1:-1]})?$"}),
    ] = None,
) -> str:
    tenant = valid_tenant(x_tenant_id)
    if tenant is None:
        raise HTTPException(400, "X-Tenant-Id must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    return tenant


async def idempotency_header(
    idempotency_key: Annotated[
        str | None,
        Header(description="Repeat a submission safely: same key, same job.",
               json_schema_extra={"pattern": _IDEMPOTENCY_KEY.pattern}),
    ] = None,
) -> str | None:
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        raise HTTPException(400, "Idempotency-Key must be 1-255 printable ASCII characters")
    return idempotency_key


def valid_tenant(header: str | None) -> str | None:
    """The tenant an `X-Tenant-Id` header names (`default` when absent or empty), or None
    when the header is invalid."""
    if header is None or header == "":
        return "default"
    return header if _TENANT.match(header) else None


def valid_idempotency_key(header: str) -> bool:
    return _IDEMPOTENCY_KEY.match(header) is not None


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TasksDep = Annotated[TaskRegistry, Depends(get_tasks)]
TenantDep = Annotated[str, Depends(tenant_header)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_header)]
