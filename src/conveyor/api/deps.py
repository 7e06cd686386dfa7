"""Request dependencies: the store, settings, who the request acts as (its principal, and
the tenant it may see or act for), and the idempotency key.

All are `async def`: FastAPI runs plain `def` dependencies on a thread pool, one thread hop
each per request, which cost a third of the submit path's CPU in the benchmarks.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from conveyor.api.openapi import API_KEY_HEADER, API_KEY_SCHEME, refuses
from conveyor.config import Settings
from conveyor.errors import JobNotFound
from conveyor.keys import Principal
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


# Declared as a security scheme so the OpenAPI document (and generated clients, fuzzers)
# know the header exists; `auto_error=False` because whether it is needed depends on API_KEY.
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name=API_KEY_SCHEME,
    description="The server's API_KEY. Needed only when the server has one set.",
    auto_error=False,
)


async def require_api_key(
    request: Request,
    x_api_key: Annotated[str | None, Security(api_key_header)],
) -> None:
    """The key was checked before routing (`conveyor.api.auth`); this dependency declares it
    in the OpenAPI document, and refuses a request that somehow arrived without a
    principal."""
    if getattr(request.state, "principal", None) is None:
        raise HTTPException(401, "missing or invalid X-API-Key",
                            headers={"WWW-Authenticate": "X-API-Key"})


async def get_principal(request: Request) -> Principal:
    """Who the request acts as (set by `AuthMiddleware`; an admin while auth is off)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise HTTPException(401, "missing or invalid X-API-Key",
                            headers={"WWW-Authenticate": "X-API-Key"})
    return found


@refuses("a read-only key cannot change anything")
async def get_writer(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A principal that may change things: every key but a `readonly` one."""
    if not principal.writes:
        raise HTTPException(403, "this API key is read-only")
    return principal


@refuses("this operation needs an admin key")
async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """An admin key's principal (API_KEY, or a stored `admin` key); 403 for tenant keys."""
    if not principal.admin:
        raise HTTPException(403, "this route needs an admin key")
    return principal


def own_tenant(principal: Principal, asked: str | None) -> str | None:
    """The tenant a read is limited to: the key's own (asking for another is 403), or for
    an admin the one asked for (None: every tenant)."""
    if principal.tenant is None:
        return asked
    if asked is not None and asked != principal.tenant:
        raise HTTPException(403, "this API key belongs to another tenant")
    return principal.tenant


def visible(principal: Principal, tenant: str) -> None:
    """404 for another tenant's object: indistinguishable from one that does not exist."""
    if not principal.sees(tenant):
        raise JobNotFound()


@refuses("a tenant's key cannot name another tenant in X-Tenant-Id")  # + get_writer's
async def tenant_header(
    principal: Annotated[Principal, Depends(get_writer)],
    x_tenant_id: Annotated[
        str | None,
        Header(description="The tenant to act for. Defaults to `default` (also when empty); "
               "with a tenant's API key, the key's tenant (another one is 403).",
               # Documented only: checked below, for the error message.
               json_schema_extra={"pattern": f"^(?:{_TENANT.pattern[1:-1]})?$"}),
    ] = None,
) -> str:
    """The tenant a write acts for (writes need a key that may write)."""
    if principal.tenant is not None:
        if x_tenant_id and x_tenant_id != principal.tenant:
            raise HTTPException(403, "X-Tenant-Id names another tenant than this API key's")
        return principal.tenant
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
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WriterDep = Annotated[Principal, Depends(get_writer)]
AdminDep = Annotated[Principal, Depends(get_admin)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_header)]
