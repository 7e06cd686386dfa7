"""Tenant settings on SQLite: a row in `tenants` per tenant with an override, and each
tenant's live figures. Writes run in one `BEGIN IMMEDIATE` transaction on the writer
thread, reads on one snapshot; both receive the store's clock as `now`. The settings act in
the lease itself (`workers._pick`), on the one writer: caps are exact."""

from __future__ import annotations

import sqlite3

from conveyor.store.base import TenantInfo, TenantSettings
from conveyor.store.sqlite.events import wake_workers

# Every tenant with a setting or with live jobs (or the one named, whatever it has).
_STATS = """
WITH live AS (
    SELECT tenant, sum(status = 'pending') AS pending, sum(status = 'running') AS running
      FROM jobs WHERE status IN ('pending', 'running') AND (:name IS NULL OR tenant = :name)
     GROUP BY tenant),
names AS (SELECT tenant AS name FROM live
          UNION SELECT name FROM tenants WHERE :name IS NULL
          UNION SELECT :name WHERE :name IS NOT NULL)
SELECT n.name, t.weight, t.max_running, t.rate_per_minute,
       coalesce(l.pending, 0) AS pending, coalesce(l.running, 0) AS running
  FROM names AS n
  LEFT JOIN live AS l ON l.tenant = n.name
  LEFT JOIN tenants AS t ON t.name = n.name
 ORDER BY n.name
"""


def _settings(row: sqlite3.Row) -> TenantSettings:
    return TenantSettings(row["weight"], row["max_running"], row["rate_per_minute"])


def _stats(conn: sqlite3.Connection, name: str | None) -> list[TenantInfo]:
    return [TenantInfo(name=row["name"], settings=_settings(row), pending=int(row["pending"]),
                       running=int(row["running"]))
            for row in conn.execute(_STATS, {"name": name})]


def set_tenant(
    conn: sqlite3.Connection, now: float, name: str, settings: TenantSettings
) -> TenantInfo:
    if settings == TenantSettings():  # nothing left to keep: the row goes
        conn.execute("DELETE FROM tenants WHERE name = ?", (name,))
    else:
        conn.execute(
            "INSERT INTO tenants (name, weight, max_running, rate_per_minute, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " weight = excluded.weight, max_running = excluded.max_running,"
            " rate_per_minute = excluded.rate_per_minute, updated_at = excluded.updated_at",
            (name, settings.weight, settings.max_running, settings.rate_per_minute, now))
    wake_workers(conn)  # a cap raised or lifted lets workers lease more of its jobs
    [info] = _stats(conn, name)
    return info


def get_tenant(conn: sqlite3.Connection, now: float, name: str) -> TenantInfo:
    [info] = _stats(conn, name)
    return info


def list_tenants(conn: sqlite3.Connection, now: float) -> list[TenantInfo]:
    return _stats(conn, None)


def tenant_settings(conn: sqlite3.Connection, now: float) -> dict[str, TenantSettings]:
    return {row["name"]: _settings(row) for row in conn.execute(
        "SELECT name, weight, max_running, rate_per_minute FROM tenants")}

