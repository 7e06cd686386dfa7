"""What workers ask of the SQLite store: lease, reserve and start, heartbeat, finish, release,
rescue, and the worker registry.

Each function runs inside one `BEGIN IMMEDIATE` transaction on the store's writer thread (so
leasing needs no SKIP LOCKED: there is one writer at a time) and receives the store's clock
as `now`. Acks, fails, heartbeats and releases are fenced by `lease_token` and
`status = 'running'`: a worker whose lease was lost changes nothing.
"""

from __future__ import annotations

import sqlite3
import uuid

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Ack, JobId, Lease, Outcome, Progress, Started
from conveyor.store import rules
from conveyor.store.base import Held, WorkerInfo
from conveyor.store.sqlite.events import Change, append, wake_workers
from conveyor.store.sqlite.rows import READ, dumps

_LAST = rules.last_attempt_sql()
_UNLEASE = "lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL"


def _held(statuses: str = "'running'") -> str:
    """The fence of a lease (parameters: job id, token): this token, in one of `statuses`."""
    return f"id = ? AND lease_token = ? AND status IN ({statuses})"


_FENCE = _held()
_RESERVED = _held("'pending'")
_HELD_OR_RESERVED = _held("'pending', 'running'")


_RUNNING_QUEUES = "queue NOT IN (SELECT name FROM queues WHERE paused)"
"""Leaving out the jobs of paused queues: the next due time (picks filter them first)."""

_CANDIDATES = (
    "SELECT {columns} FROM jobs INDEXED BY jobs_pending"
    " WHERE status = 'pending' AND lease_token IS NULL AND queue IN ({marks}) AND tenant = ?"
    " AND run_at <= ? ORDER BY priority DESC, run_at, id LIMIT ?")
"""A tenant's best runnable, unreserved pending jobs of the queues (parameters: *queues,
tenant, now, limit). Through `jobs_pending`, named: its order is the lease order (an index
by time alone would match the filter more exactly, be chosen, and need a sort)."""


_BOUNDS = (
    "SELECT b.first, b.last, b.paused, s.max_running FROM (SELECT"
    " (SELECT min(tenant) FROM jobs INDEXED BY jobs_pending"
    "   WHERE status = 'pending' AND queue = :queue) AS first,"
    " (SELECT max(tenant) FROM jobs INDEXED BY jobs_pending"
    "   WHERE status = 'pending' AND queue = :queue) AS last,"
    " EXISTS (SELECT 1 FROM queues WHERE name = :queue AND paused) AS paused) AS b"
    " LEFT JOIN tenants AS s ON s.name = b.first")
"""A queue's first and last tenant with pending jobs (two index descents), whether it is
paused, and the first tenant's cap: one statement that tells the common case (one tenant,
no cap) from the rest."""


def _tenants(conn: sqlite3.Connection, queue: str, first: str) -> list[str]:
    """The tenants with pending jobs in `queue`, from its `first`: a skip scan of
    `jobs_pending` (queue, tenant, …), one index descent per tenant."""
    found = [first]
    while True:
        row = conn.execute("SELECT min(tenant) AS t FROM jobs INDEXED BY jobs_pending"
                           " WHERE status = 'pending' AND queue = ? AND tenant > ?",
                           (queue, found[-1])).fetchone()
        if row["t"] is None:
            return found
        found.append(row["t"])


def _holding(conn: sqlite3.Connection) -> dict[str, int]:
    """The jobs each tenant holds now: running, or reserved by a worker (through the partial
    indexes of running and of reserved jobs)."""
    held: dict[str, int] = {}
    for query in ("SELECT tenant, count(*) AS n FROM jobs INDEXED BY jobs_running"
                  " WHERE status = 'running' GROUP BY tenant",
                  "SELECT tenant, count(*) AS n FROM jobs INDEXED BY jobs_reserved"
                  " WHERE status = 'pending' AND lease_token IS NOT NULL GROUP BY tenant"):
        for row in conn.execute(query):
            held[row["tenant"]] = held.get(row["tenant"], 0) + int(row["n"])
    return held


def _pick(
    conn: sqlite3.Connection, now: float, queues: list[str], limit: int
) -> tuple[str, tuple[object, ...]]:
    """Which jobs to take, as SQL for `id IN (…)` and its parameters: the runnable,
    unreserved pending jobs of `queues` (not paused), in the fair order of docs/design.md
    ("Fair dispatch"): round-robin by tenant, weighted, within each tenant's `max_running`;
    by priority, then age, inside a tenant. A reserved job (pending, with a lease token)
    belongs to one worker already. One writer at a time: what is counted here is what the
    lease sees, so a cap is exact. With one tenant and no cap (the common case) it is one
    index-ordered subquery, as before fair dispatch."""
    running: list[str] = []
    tenants: set[str] = set()
    capped = False
    for queue in queues:
        bounds = conn.execute(_BOUNDS, {"queue": queue}).fetchone()
        if bounds["paused"] or bounds["first"] is None:
            continue
        running.append(queue)
        capped = capped or bounds["max_running"] is not None
        if bounds["first"] == bounds["last"]:
            tenants.add(bounds["first"])
        else:
            tenants.update(_tenants(conn, queue, bounds["first"]))
    if not tenants:
        return "SELECT NULL WHERE 0", ()
    marks = ",".join("?" * len(running))
    if len(tenants) == 1 and not capped:
        return (_CANDIDATES.format(columns="id", marks=marks),
                (*running, *tenants, now, limit))
    names = sorted(tenants)
    settings = {row["name"]: (row["weight"] or 1, row["max_running"]) for row in conn.execute(
        "SELECT name, weight, max_running FROM tenants"
        f" WHERE name IN ({','.join('?' * len(names))})", names)}
    held = _holding(conn)
    ranked: list[tuple[float, float, str]] = []
    for tenant in names:
        weight, cap = settings.get(tenant, (1, None))
        room = limit if cap is None else min(limit, max(0, cap - held.get(tenant, 0)))
        if room == 0:
            continue
        rows = conn.execute(_CANDIDATES.format(columns="id, run_at", marks=marks),
                            (*running, tenant, now, room))
        ranked += [((held.get(tenant, 0) + k) / weight, row["run_at"], row["id"])
                   for k, row in enumerate(rows, start=1)]
    ids = [job_id for _, _, job_id in sorted(ranked)[:limit]]
    return ",".join("?" * len(ids)) or "SELECT NULL WHERE 0", tuple(ids)


def lease(
    conn: sqlite3.Connection,
    now: float,
    worker: str,
    queues: list[str],
    limit: int,
    lease_for_sec: float,
) -> list[Lease]:
    pick, params = _pick(conn, now, queues, limit)
    rows = conn.execute(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,"
        " lease_token = lower(hex(randomblob(16))), lease_expires_at = ?, started_at = ?,"
        f" progress = NULL, progress_message = NULL WHERE id IN ({pick})"
        " RETURNING id, lease_token, task, payload, attempts, max_retries, tenant, queue,"
        " trace_id, timeout_sec, status, run_at",
        (worker, now + lease_for_sec, now, *params),
    ).fetchall()
    append(conn, now, [_leased(now, row, worker) for row in rows])
    return [READ.lease(row) for row in rows]


def _leased(now: float, row: sqlite3.Row, worker: str) -> Change:
    return Change(row["id"], EventType.LEASED, JobStatus.PENDING, row["status"],
                  row["attempts"], row["tenant"], row["task"], worker,
                  data={"wait": round(max(0.0, now - row["run_at"]), rules.WAIT_DECIMALS)})


def reserve(
    conn: sqlite3.Connection,
    now: float,
    worker: str,
    queues: list[str],
    limit: int,
    lease_for_sec: float,
) -> list[Lease]:
    """Hold jobs ahead of a free slot: still `pending` (no event), with this worker's token."""
    pick, params = _pick(conn, now, queues, limit)
    rows = conn.execute(
        "UPDATE jobs SET lease_owner = ?, lease_token = lower(hex(randomblob(16))),"
        f" lease_expires_at = ? WHERE id IN ({pick})"
        " RETURNING id, lease_token, task, payload, attempts + 1 AS attempts, max_retries,"
        " tenant, queue, trace_id, timeout_sec",
        (worker, now + lease_for_sec, *params),
    ).fetchall()
    return [READ.lease(row) for row in rows]


def start(
    conn: sqlite3.Connection, now: float, started: list[Started], lease_for_sec: float
) -> set[JobId]:
    """Reserved jobs whose handlers have begun become `running`, with their `job_leased`."""
    changes: list[Change] = []
    for one in started:
        began = now - max(0.0, one.ago_sec)
        row = conn.execute(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?,"
            " progress = NULL, progress_message = NULL,"
            f" lease_expires_at = ? WHERE {_RESERVED}"
            " RETURNING id, status, attempts, tenant, task, lease_owner, run_at",
            (began, now + lease_for_sec, str(one.lease.job_id), one.lease.token.hex),
        ).fetchone()
        if row is not None:
            changes.append(_leased(began, row, row["lease_owner"]))
    append(conn, now, changes)
    return {uuid.UUID(change.job_id) for change in changes}


def heartbeat(
    conn: sqlite3.Connection, now: float, leases: list[Lease], lease_for_sec: float
) -> Held:
    held: list[JobId] = []
    cancelling: list[JobId] = []
    for lease in leases:
        row = conn.execute(
            f"UPDATE jobs SET lease_expires_at = ? WHERE {_HELD_OR_RESERVED}"
            " RETURNING cancel_requested_at IS NOT NULL AS cancelling",
            (now + lease_for_sec, str(lease.job_id), lease.token.hex),
        ).fetchone()
        if row is not None:
            held.append(lease.job_id)
            if row["cancelling"]:
                cancelling.append(lease.job_id)
    return Held(held, cancelling)


def progress(conn: sqlite3.Connection, now: float, reports: list[Progress]) -> set[JobId]:
    changes: list[Change] = []
    for report in reports:
        row = conn.execute(
            f"UPDATE jobs SET progress = ?, progress_message = ? WHERE {_FENCE}"
            " RETURNING status, attempts, tenant, task, lease_owner",
            (report.fraction, report.message, str(report.lease.job_id), report.lease.token.hex),
        ).fetchone()
        if row is not None:
            changes.append(Change(str(report.lease.job_id), EventType.PROGRESS,
                                  JobStatus.RUNNING, row["status"], row["attempts"],
                                  row["tenant"], row["task"], row["lease_owner"],
                                  data={"progress": report.fraction,
                                        "message": report.message}))
    append(conn, now, changes)
    return {uuid.UUID(change.job_id) for change in changes}


def next_due(
    conn: sqlite3.Connection, now: float, queues: list[str], later_than: float | None
) -> float | None:
    """The earliest `run_at` of the pending jobs of each running (not paused) queue (with
    `later_than`, of those due after `now + later_than`): a scan of the queue's entries in
    `jobs_pending` (covering: no row is read), on the idle path only. Reserved jobs count
    too: a worker that finds nothing to lease backs off (`worker.loop.idle_wait`)."""
    marks = ",".join("?" * len(queues))
    row = conn.execute(
        "SELECT min(run_at) AS due FROM jobs INDEXED BY jobs_pending"
        f" WHERE status = 'pending' AND {_RUNNING_QUEUES} AND queue IN ({marks})"
        " AND run_at > ?",
        [*queues, float("-inf") if later_than is None else now + later_than]).fetchone()
    return None if row is None or row["due"] is None else float(row["due"]) - now


# What a failed attempt makes of its job (parameters: cancelled, permanent; the row before it).
_FAILED_STATUS = (
    f"CASE WHEN ? THEN 'cancelled' WHEN ? OR {_LAST} THEN 'failed'"
    " WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'pending' END")


def finish(
    conn: sqlite3.Connection,
    now: float,
    outcomes: list[Outcome],
    worker: str,
    started: list[Started],
    lease_for_sec: float,
) -> set[tuple[JobId, uuid.UUID]]:
    """Start `started`, then apply each outcome whose lease still holds; the (job id, token)
    pairs applied."""
    start(conn, now, started, lease_for_sec)
    applied: set[tuple[JobId, uuid.UUID]] = set()
    changes: list[Change] = []
    for outcome in outcomes:
        lease = outcome.lease
        fail = None if isinstance(outcome, Ack) else outcome
        if isinstance(outcome, Ack):  # the common case, kept to the plainest statement
            row = conn.execute(
                f"UPDATE jobs SET status = 'done', result = ?, finished_at = ?, {_UNLEASE}"
                f" WHERE {_FENCE} RETURNING status, attempts, tenant, task, started_at",
                (dumps(outcome.result), now, str(lease.job_id), lease.token.hex),
            ).fetchone()
        else:
            fail = outcome
            decided = (fail.cancelled, fail.permanent)
            row = conn.execute(
                f"UPDATE jobs SET status = {_FAILED_STATUS},"
                f" run_at = CASE WHEN {_FAILED_STATUS} = 'pending' THEN ? ELSE run_at END,"
                f" finished_at = CASE WHEN {_FAILED_STATUS} = 'pending' THEN NULL ELSE ? END,"
                f" last_error = ?, {_UNLEASE}"
                f" WHERE {_FENCE} RETURNING status, attempts, tenant, task, started_at",
                (*decided, *decided, now + max(0.0, fail.retry_in_sec), *decided, now,
                 fail.error, str(lease.job_id), lease.token.hex),
            ).fetchone()
        if row is None:
            continue
        applied.add((lease.job_id, lease.token))
        data: dict[str, object] = {
            "runtime": round(max(0.0, now - (row["started_at"] or now)), rules.WAIT_DECIMALS)}
        status = JobStatus(row["status"])
        if fail is None:
            event_type, error = EventType.SUCCEEDED, None
        else:
            event_type, error = _FAILED_EVENTS[status], fail.error
            if status is JobStatus.PENDING:
                data["retry_in"] = round(max(0.0, fail.retry_in_sec), rules.RETRY_IN_DECIMALS)
            if fail.error_type is not None:
                data["error_type"] = fail.error_type
            if fail.traceback is not None:
                data["traceback"] = fail.traceback
        changes.append(Change(str(lease.job_id), event_type, JobStatus.RUNNING, row["status"],
                              row["attempts"], row["tenant"], row["task"], worker, error, data))
    append(conn, now, changes)
    return applied


_FAILED_EVENTS = {
    JobStatus.PENDING: EventType.RETRY_SCHEDULED,
    JobStatus.FAILED: EventType.FAILED,
    JobStatus.CANCELLED: EventType.CANCELLED,
}
"""The event of a failed attempt, by the status it left the job in."""


def release(conn: sqlite3.Connection, now: float, leases: list[Lease]) -> None:
    """Running jobs go back with `job_released` (or end with `job_cancelled` when that was
    requested); reserved ones are just free again."""
    changes: list[Change] = []
    for lease in leases:
        row = conn.execute(
            "UPDATE jobs SET"
            " status = CASE WHEN cancel_requested_at IS NULL THEN 'pending' ELSE 'cancelled' END,"
            " attempts = CASE WHEN cancel_requested_at IS NULL THEN max(0, attempts - 1)"
            " ELSE attempts END,"
            " finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE ? END,"
            " last_error = CASE WHEN cancel_requested_at IS NULL THEN last_error ELSE ? END,"
            f" {_UNLEASE} WHERE {_FENCE} RETURNING status, attempts, tenant, task, last_error",
            (now, rules.CANCELLED_ERROR, str(lease.job_id), lease.token.hex),
        ).fetchone()
        if row is not None:
            cancelled = row["status"] == JobStatus.CANCELLED.value
            changes.append(Change(str(lease.job_id),
                                  EventType.CANCELLED if cancelled else EventType.RELEASED,
                                  JobStatus.RUNNING, row["status"], row["attempts"],
                                  row["tenant"], row["task"],
                                  error=row["last_error"] if cancelled else None))
        elif conn.execute(f"UPDATE jobs SET {_UNLEASE} WHERE {_RESERVED}",
                          (str(lease.job_id), lease.token.hex)).rowcount:
            wake_workers(conn)  # a reservation: free again, no attempt spent, no event due
    append(conn, now, changes)


_RESCUED_EVENTS = {
    JobStatus.PENDING: EventType.LEASE_EXPIRED,
    JobStatus.FAILED: EventType.FAILED,
    JobStatus.CANCELLED: EventType.CANCELLED,
}
_RESCUED_STATUS = (
    "CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'"
    f" WHEN {_LAST} THEN 'failed' ELSE 'pending' END")


def rescue(conn: sqlite3.Connection, now: float) -> list[JobId]:
    """A rescued job keeps its `run_at`: it goes back to its place in the queue."""
    # Reservations of a worker that stopped renewing them: the jobs are simply free again.
    if conn.execute(f"UPDATE jobs SET {_UNLEASE} WHERE status = 'pending'"
                    " AND lease_token IS NOT NULL AND lease_expires_at < ?", (now,)).rowcount:
        wake_workers(conn)
    expired = "status = 'running' AND lease_expires_at < ?"
    owners = dict(conn.execute(f"SELECT id, lease_owner FROM jobs WHERE {expired}", (now,)))
    rows = conn.execute(
        f"UPDATE jobs SET status = {_RESCUED_STATUS},"
        f" finished_at = CASE WHEN {_RESCUED_STATUS} = 'pending' THEN NULL ELSE ? END,"
        f" last_error = {rules.rescue_error_sql('lease_owner')}, {_UNLEASE}"
        f" WHERE {expired} RETURNING id, status, attempts, tenant, task, last_error",
        (now, now),
    ).fetchall()
    append(conn, now, [
        Change(row["id"], _RESCUED_EVENTS[JobStatus(row["status"])],
               JobStatus.RUNNING, row["status"], row["attempts"], row["tenant"], row["task"],
               owners.get(row["id"]), row["last_error"])
        for row in rows
    ])
    return [uuid.UUID(row["id"]) for row in rows]


def register_worker(conn: sqlite3.Connection, now: float, info: WorkerInfo) -> None:
    conn.execute(
        "INSERT INTO workers (id, host, pid, queues, concurrency, started_at,"
        " last_seen_at, running) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
        " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        (info.id, info.host, info.pid, dumps(list(info.queues)), info.concurrency, now, now),
    )


def worker_seen(conn: sqlite3.Connection, now: float, worker_id: str, running: int) -> None:
    conn.execute(
        "UPDATE workers SET last_seen_at = ?, running = ? WHERE id = ?",
        (now, running, worker_id),
    )


def unregister_worker(conn: sqlite3.Connection, now: float, worker_id: str) -> None:
    conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
