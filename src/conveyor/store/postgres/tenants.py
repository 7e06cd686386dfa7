"""Tenant settings on PostgreSQL: a row in `tenants` per tenant with an override, and each
tenant's live figures, in autocommit (see `statements.py`). The settings act in the lease
statement itself (`_PICK`): every worker reads the same row."""

from __future__ import annotations

from typing import Any

from conveyor.store.base import TenantInfo, TenantSettings
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import WAKE_WORKERS, Conn
from conveyor.store.postgres.rows import fetch


def _settings(row: dict[str, Any]) -> TenantSettings:
    return TenantSettings(row["weight"], row["max_running"], row["rate_per_minute"])


def _info(row: dict[str, Any]) -> TenantInfo:
    return TenantInfo(name=row["name"], settings=_settings(row), pending=int(row["pending"]),
                      running=int(row["running"]))


async def _stats(conn: Conn, name: str | None) -> list[TenantInfo]:
    return [_info(row) for row in await fetch(conn, sql.TENANT_STATS, {"name": name}, False)]


async def set_tenant(conn: Conn, name: str, settings: TenantSettings) -> TenantInfo:
    """The change, the workers woken after its commit (a cap raised or lifted lets them lease
    more of the tenant's jobs), then the tenant as it is after it."""
    if settings == TenantSettings():
        await conn.execute(sql.CLEAR_TENANT, {"name": name})
    else:
        await conn.execute(sql.SET_TENANT, {
            "name": name, "weight": settings.weight, "max_running": settings.max_running,
            "rate_per_minute": settings.rate_per_minute})
    await conn.execute(WAKE_WORKERS)
    [info] = await _stats(conn, name)
    return info


async def get_tenant(conn: Conn, name: str) -> TenantInfo:
    [info] = await _stats(conn, name)
    return info


async def list_tenants(conn: Conn) -> list[TenantInfo]:
    return await _stats(conn, None)


async def tenant_settings(conn: Conn) -> dict[str, TenantSettings]:
    return {row["name"]: _settings(row)
            for row in await fetch(conn, sql.TENANT_SETTINGS, None, False)}
