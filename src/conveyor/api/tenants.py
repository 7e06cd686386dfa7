"""Routes for tenants: their settings (weight, cap on running jobs, rate limit) and live
figures. A tenant is a name (`X-Tenant-ID`); any name can be read or set."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from conveyor.api.deps import StoreDep
from conveyor.api.openapi import errors
from conveyor.logging import get_logger
from conveyor.store.base import TenantInfo
from conveyor.tenancy import for_store
from conveyor.wire import NAME_PATTERN, TenantIn, TenantOut, TenantsOut

log = get_logger("conveyor.api")
router = APIRouter(tags=["tenants"])

TenantName = Annotated[str, Path(pattern=NAME_PATTERN, description="The tenant's name.")]


def _out(info: TenantInfo) -> TenantOut:
    return TenantOut(name=info.name, weight=info.settings.weight,
                     max_running=info.settings.max_running,
                     rate_per_minute=info.settings.rate_per_minute,
                     pending=info.pending, running=info.running)


@router.get("/tenants", response_model=TenantsOut, responses=errors(503))
async def list_tenants(store: StoreDep) -> TenantsOut:
    """Every tenant with a setting or with pending or running jobs: its settings (null: the
    default) and its pending and running jobs."""
    return TenantsOut(tenants=[_out(info) for info in await store.list_tenants()])


@router.get("/tenants/{name}", response_model=TenantOut, responses=errors(503))
async def get_tenant(name: TenantName, store: StoreDep) -> TenantOut:
    """The tenant's settings and live jobs (a tenant nothing was set or submitted for has
    the defaults and no jobs)."""
    return _out(await store.get_tenant(name))


@router.put("/tenants/{name}", response_model=TenantOut, responses=errors(503))
async def set_tenant(name: TenantName, body: TenantIn, store: StoreDep) -> TenantOut:
    """Replace the tenant's settings: a field left out or null goes back to the default.
    Workers apply weight and cap from their next lease; every API process applies the rate
    limit within TENANT_SETTINGS_TTL_SEC (5 s), this one at once."""
    info = await store.set_tenant(name, body.weight, body.max_running, body.rate_per_minute)
    for_store(store).forget()
    log.info("tenant_set", tenant=name, weight=body.weight, max_running=body.max_running,
             rate_per_minute=body.rate_per_minute)
    return _out(info)
