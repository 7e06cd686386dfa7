"""What workers ask of the PostgreSQL store: lease, heartbeat, finish, release, rescue, and
the worker registry. Each is one statement (see `postgres_sql.py`), run in autocommit.

Batches are sorted by job id before they reach SQL: rows are then locked in one global order
by every statement that takes several, which keeps a finish and a heartbeat of the same
leases from deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from conveyor.models import Ack, Fail, JobId, Lease, Outcome
from conveyor.store import postgres_sql as sql
from conveyor.store.base import WorkerInfo
from conveyor.store.postgres_rows import Row, dumps, lease_from_row, worker_from_row


async def _rows(
    conn: sql.Conn,
    query: str,
    params: Sequence[object] | Mapping[str, object] | None,
    prepare: bool = True,
) -> list[Row]:
    """All rows of one statement; `prepare` as in `PostgresStore._fetch`."""
    cur = await conn.execute(query, params, prepare=prepare)
    return await cur.fetchall()


async def lease(
    conn: sql.Conn, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
) -> list[Lease]:
    rows = await _rows(
        conn,
        sql.LEASE,
        {
            "queues": sorted(set(queues)),
            "limit": limit,
            "worker": worker,
            "lease_for": float(lease_for_sec),
        },
    )
    return sorted((lease_from_row(row) for row in rows), key=lambda lease: lease.job_id)


async def heartbeat(conn: sql.Conn, leases: Sequence[Lease], lease_for_sec: float) -> set[JobId]:
    ordered = sorted(leases, key=lambda lease: lease.job_id)
    rows = await _rows(
        conn,
        sql.HEARTBEAT,
        {
            "lease_for": float(lease_for_sec),
            "ids": [lease.job_id for lease in ordered],
            "tokens": [lease.token for lease in ordered],
        },
    )
    return {row["id"] for row in rows}


async def finish(conn: sql.Conn, outcomes: Sequence[Outcome], worker: str) -> list[bool]:
    """All outcomes in one statement; per outcome, whether its lease still held."""
    batch: dict[tuple[JobId, uuid.UUID], Outcome] = {}
    for outcome in outcomes:  # a lease listed twice is applied once, like two calls would be
        batch.setdefault((outcome.lease.job_id, outcome.lease.token), outcome)
    ordered = sorted(batch.values(), key=lambda outcome: outcome.lease.job_id)
    rows = await _rows(
        conn,
        sql.FINISH,
        {
            "ids": [o.lease.job_id for o in ordered],
            "tokens": [o.lease.token for o in ordered],
            "ok": [isinstance(o, Ack) for o in ordered],
            "results": [dumps(o.result) if isinstance(o, Ack) else None for o in ordered],
            "errors": [o.error if isinstance(o, Fail) else None for o in ordered],
            "retry_in": [
                max(0.0, float(o.retry_in_sec)) if isinstance(o, Fail) else 0.0 for o in ordered
            ],
            "permanent": [o.permanent if isinstance(o, Fail) else False for o in ordered],
            "worker": worker,
        },
    )
    applied = {(row["id"], row["token"]) for row in rows}
    answers: list[bool] = []
    for outcome in outcomes:
        key = (outcome.lease.job_id, outcome.lease.token)
        answers.append(key in applied)
        applied.discard(key)  # the second listing of one lease was not applied again
    return answers


async def release(conn: sql.Conn, leases: Sequence[Lease]) -> None:
    ordered = sorted(leases, key=lambda lease: lease.job_id)
    await _rows(
        conn,
        sql.RELEASE,
        {"ids": [lease.job_id for lease in ordered], "tokens": [lease.token for lease in ordered]},
    )


async def rescue(conn: sql.Conn) -> list[JobId]:
    # Empty parameters, not None: psycopg then turns the "%%" in the statement into "%".
    return sorted(row["id"] for row in await _rows(conn, sql.RESCUE, ()))


async def register_worker(conn: sql.Conn, info: WorkerInfo) -> None:
    await _rows(
        conn,
        "INSERT INTO workers (id, host, pid, queues, concurrency, started_at, last_seen_at,"
        " running) VALUES (%s, %s, %s, %s, %s, now(), now(), 0)"
        " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at"
        " RETURNING id",
        (info.id, info.host, info.pid, list(info.queues), info.concurrency),
        prepare=False,
    )


async def worker_seen(conn: sql.Conn, worker_id: str, running: int) -> None:
    await _rows(
        conn,
        "UPDATE workers SET last_seen_at = now(), running = %s WHERE id = %s RETURNING id",
        (running, worker_id),
    )


async def unregister_worker(conn: sql.Conn, worker_id: str) -> None:
    await _rows(conn, "DELETE FROM workers WHERE id = %s RETURNING id", (worker_id,), False)


async def list_workers(conn: sql.Conn, seen_within_sec: float) -> list[WorkerInfo]:
    rows = await _rows(
        conn,
        "SELECT id, host, pid, queues, concurrency, started_at, last_seen_at, running"
        " FROM workers WHERE last_seen_at >= now() - make_interval(secs => %s)"
        " ORDER BY started_at",
        (float(seen_within_sec),),
        prepare=False,
    )
    return [worker_from_row(row) for row in rows]
