"""Writing `job_events` rows on SQLite, with the counters their transitions move.

Every write operation ends here: the events of its changes and, from `conveyor.lifecycle`, the
counter deltas those transitions imply, in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from conveyor.lifecycle import EventType, JobStatus, counter_deltas
from conveyor.store.sqlite.rows import dumps


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
