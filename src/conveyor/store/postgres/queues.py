"""Queue operations on PostgreSQL: pause and resume (a row in `queues`), and the figures of
every queue, in autocommit (see `statements.py`)."""

from __future__ import annotations

from typing import Any

from conveyor.store.base import QueueInfo
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import WAKE_WORKERS, Conn
from conveyor.store.postgres.rows import fetch


def _info(row: dict[str, Any]) -> QueueInfo:
    return QueueInfo(
        name=row["name"], paused=bool(row["paused"]), paused_at=row["paused_at"],
        pending=int(row["pending"]), scheduled=int(row["scheduled"]),
        running=int(row["running"]),
        oldest_pending_age_sec=None if row["oldest_age"] is None else float(row["oldest_age"]),
        done_last_minute=int(row["done"]), failed_last_minute=int(row["failed"]),
    )


async def _set_paused(conn: Conn, name: str, paused: bool) -> QueueInfo:
    """The switch (and, for a resume, the workers woken after its commit: its jobs are
    leasable again), then the queue's figures as they are after it."""
    await conn.execute(sql.SET_QUEUE_PAUSED, {"name": name, "paused": paused})
    if not paused:
        await conn.execute(WAKE_WORKERS)
    [row] = await fetch(conn, sql.QUEUE_STATS, {"name": name, "tenant": None}, False)
    return _info(row)


async def pause_queue(conn: Conn, name: str) -> QueueInfo:
    return await _set_paused(conn, name, True)


async def resume_queue(conn: Conn, name: str) -> QueueInfo:
    return await _set_paused(conn, name, False)


async def list_queues(conn: Conn, tenant: str | None) -> list[QueueInfo]:
    return [_info(row) for row in
            await fetch(conn, sql.QUEUE_STATS, {"name": None, "tenant": tenant}, False)]
