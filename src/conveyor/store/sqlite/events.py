"""Writing `job_events` rows on SQLite, with the counters their transitions move.

Every write operation ends here: the events of its changes and, from `conveyor.lifecycle`, the
counter deltas those transitions imply, in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from conveyor.lifecycle import TERMINAL_STATUSES, EventType, JobStatus, counter_deltas
from conveyor.store import rules
from conveyor.store.sqlite.rows import dumps


class WriteConnection(sqlite3.Connection):
    """The store's connections: a write marks on its connection that it may have made jobs
    leasable (`wake_workers`), and the store reads the mark after the commit."""

    wakes_workers = False


def wake_workers(conn: sqlite3.Connection) -> None:
    """This transaction may make jobs leasable (a job left pending, a capped tenant's job
    ended, a queue resumed, tenant settings changed, reservations freed): after its commit
    the store wakes the workers waiting for work, here and in its peers (`wake.py`)."""
    if isinstance(conn, WriteConnection):
        conn.wakes_workers = True


_PENDING = JobStatus.PENDING.value
_ENDS = frozenset(status.value for status in TERMINAL_STATUSES)


def _makes_work(conn: sqlite3.Connection, changes: Sequence[Change]) -> bool:
    """A job left pending, or a running or pending job of a tenant with a `max_running` cap
    ended (its slot under the cap, a running job's or a reserved one's, is free for the
    tenant's next job; a pending job that held none wakes the workers for nothing)."""
    if any(c.status == _PENDING for c in changes):
        return True
    ended = sorted({c.tenant for c in changes
                    if c.source in rules.CAP_HOLDERS and c.status in _ENDS})
    if not ended:
        return False
    marks = ", ".join("?" * len(ended))
    return conn.execute(f"SELECT 1 FROM tenants WHERE max_running IS NOT NULL"
                        f" AND name IN ({marks}) LIMIT 1", ended).fetchone() is not None


class Change(NamedTuple):
    """One event to write: the job as it is after the change, and where it came from."""

    job_id: str
    type: EventType
    source: JobStatus | None
    status: str
    attempt: int
    tenant: str
    task: str
    worker: str | None = None
    error: str | None = None
    data: dict[str, Any] | None = None


def append(conn: sqlite3.Connection, now: float, changes: Sequence[Change]) -> None:
    """Insert the events and move the counters (one statement each kind)."""
    if not changes:
        return
    conn.executemany(
        "INSERT INTO job_events (job_id, type, status, at, attempt, tenant, task, worker,"
        " error, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (c.job_id, c.type.value, c.status, now, c.attempt, c.tenant, c.task, c.worker,
             c.error, None if c.data is None else dumps(c.data))
            for c in changes
        ],
    )
    conn.executemany(
        "INSERT INTO counters (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        counter_deltas((c.type, c.source) for c in changes).items(),
    )
    if _makes_work(conn, changes):
        wake_workers(conn)
