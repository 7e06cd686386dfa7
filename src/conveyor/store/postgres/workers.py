"""What workers ask of the PostgreSQL store: lease, reserve and start, heartbeat, finish,
release, rescue, and the worker registry. Each is one statement (see `statements.py`), run in
autocommit (release and rescue: two, each for its own kind of hold; a lease or reservation
while several tenants have pending jobs: the one-tenant pick, then the fair one).

Batches arrive sorted by job id (`DriverStore` sorts them): rows are then locked in one
global order by every statement that takes several, which keeps a finish and a heartbeat of
the same leases from deadlocking.
"""

from __future__ import annotations

import time
import uuid

from conveyor.models import Ack, Fail, JobId, Lease, Outcome, Progress, Started
from conveyor.store import rules
from conveyor.store.base import Held, WorkerInfo
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.rows import READ, dumps, fetch

FAIR_HOLD_SEC = 1.0
"""After a lease that needed the fair pick, how long a worker goes to it directly."""

FairUntil = dict[tuple[str, ...], float]
"""Per worker and queue set, until when (monotonic) to skip the one-tenant pick: a hint,
one per store (`PostgresStore` binds it to `lease` and `reserve`), that saves a round trip
while several tenants have pending jobs. Never a rule: neither pick ever leases a job the
fair order would not (the one-tenant pick only declines more)."""


async def lease(
    conn: Conn, worker: str, queues: list[str], limit: int, lease_for_sec: float, *,
    fair_until: FairUntil,
) -> list[Lease]:
    return await _pick(conn, sql.SOLO_LEASE, sql.LEASE, worker, queues, limit, lease_for_sec,
                       fair_until)


async def reserve(
    conn: Conn, worker: str, queues: list[str], limit: int, lease_for_sec: float, *,
    fair_until: FairUntil,
) -> list[Lease]:
    return await _pick(conn, sql.SOLO_RESERVE, sql.RESERVE, worker, queues, limit,
                       lease_for_sec, fair_until)


async def _pick(
    conn: Conn, solo: str, fair: str, worker: str, queues: list[str], limit: int,
    lease_for_sec: float, fair_until: FairUntil,
) -> list[Lease]:
    """The one-tenant statement first (`statements._SOLO_PICK`: what most queues hold, at
    about the cost of the lease before fair dispatch); when it takes nothing, because the
    queues have nothing to lease or because another tenant (or a cap) is there, the fair one.
    When the fair one then leases, this worker goes to it directly for `FAIR_HOLD_SEC`. An
    idle poll runs both (both find nothing); a wake-up for one tenant's job runs one. A
    declined one-tenant attempt has locked its rows until its commit, a moment before the
    fair statement runs: a concurrent lease may skip them meanwhile, as it skips any lease's."""
    params = {"queues": queues, "limit": limit, "worker": worker, "lease_for": lease_for_sec}
    key = (worker, *queues)
    if time.monotonic() >= fair_until.get(key, 0.0):
        if rows := await fetch(conn, solo, params):
            return [READ.lease(row) for row in rows]
        if rows := await fetch(conn, fair, params):
            fair_until[key] = time.monotonic() + FAIR_HOLD_SEC
        return [READ.lease(row) for row in rows]
    return [READ.lease(row) for row in await fetch(conn, fair, params)]


async def start(conn: Conn, started: list[Started], lease_for_sec: float) -> set[JobId]:
    rows = await fetch(conn, sql.START, {
        **_fence([one.lease for one in started]),
        "ago": [one.ago_sec for one in started],
        "lease_for": lease_for_sec,
    })
    return {row["id"] for row in rows}


def _fence(leases: list[Lease]) -> dict[str, object]:
    return {"ids": [lease.job_id for lease in leases],
            "tokens": [lease.token for lease in leases]}


async def heartbeat(conn: Conn, leases: list[Lease], lease_for_sec: float) -> Held:
    rows = await fetch(conn, sql.HEARTBEAT, {**_fence(leases), "lease_for": lease_for_sec})
    return Held((row["id"] for row in rows), (row["id"] for row in rows if row["cancelling"]))


async def progress(conn: Conn, reports: list[Progress]) -> set[JobId]:
    rows = await fetch(conn, sql.PROGRESS, {
        **_fence([report.lease for report in reports]),
        "fractions": [report.fraction for report in reports],
        "messages": [report.message for report in reports],
    })
    return {row["id"] for row in rows}


async def next_due(conn: Conn, queues: list[str], later_than: float | None) -> float | None:
    rows = await fetch(conn, sql.NEXT_DUE, (queues, later_than))
    due = rows[0]["due"] if rows else None
    return None if due is None else float(due)


async def finish(
    conn: Conn, outcomes: list[Outcome], worker: str, started: list[Started],
    lease_for_sec: float,
) -> set[tuple[JobId, uuid.UUID]]:
    """All outcomes in one statement; the (job id, token) pairs whose lease still held. With
    reservations to start, they are started first, in the same transaction."""
    if not started:
        return await _finish(conn, outcomes, worker)
    async with conn.transaction():
        await start(conn, started, lease_for_sec)
        return await _finish(conn, outcomes, worker)


async def _finish(
    conn: Conn, outcomes: list[Outcome], worker: str
) -> set[tuple[JobId, uuid.UUID]]:
    rows = await fetch(
        conn,
        sql.FINISH,
        {
            "ids": [o.lease.job_id for o in outcomes],
            "tokens": [o.lease.token for o in outcomes],
            "ok": [isinstance(o, Ack) for o in outcomes],
            "results": [dumps(o.result) if isinstance(o, Ack) else None for o in outcomes],
            "errors": [o.error if isinstance(o, Fail) else None for o in outcomes],
            "retry_in": [
                max(0.0, float(o.retry_in_sec)) if isinstance(o, Fail) else 0.0
                for o in outcomes
            ],
            "permanent": [o.permanent if isinstance(o, Fail) else False for o in outcomes],
            "cancelled": [o.cancelled if isinstance(o, Fail) else False for o in outcomes],
            "error_types": [o.error_type if isinstance(o, Fail) else None for o in outcomes],
            "tracebacks": [o.traceback if isinstance(o, Fail) else None for o in outcomes],
            "worker": worker,
        },
    )
    return {(row["id"], row["token"]) for row in rows}


async def release(conn: Conn, leases: list[Lease]) -> None:
    """Running jobs go back with `job_released`; reserved ones are just free again."""
    await fetch(conn, sql.RELEASE, {**_fence(leases), "cancelled_error": rules.CANCELLED_ERROR})
    await fetch(conn, sql.UNRESERVE, _fence(leases))


async def rescue(conn: Conn) -> list[JobId]:
    # Empty parameters, not None: psycopg then turns the "%%" in the statement into "%".
    rescued = [row["id"] for row in await fetch(conn, sql.RESCUE, ())]
    await fetch(conn, sql.EXPIRE_RESERVATIONS, ())
    return rescued


async def register_worker(conn: Conn, info: WorkerInfo) -> None:
    await fetch(conn, sql.REGISTER_WORKER,
                (info.id, info.host, info.pid, list(info.queues), info.concurrency), False)


async def worker_seen(conn: Conn, worker_id: str, running: int) -> None:
    await fetch(conn, sql.WORKER_SEEN, (running, worker_id))


async def unregister_worker(conn: Conn, worker_id: str) -> None:
    await fetch(conn, sql.UNREGISTER_WORKER, (worker_id,), False)
