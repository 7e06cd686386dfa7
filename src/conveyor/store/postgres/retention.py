"""Retention on PostgreSQL: deleting old finished jobs with their events, a batch per call, in
one short transaction under the retention lease (a row in `maintenance`).

Locks, in the order every writer takes them (`events.py`): the maintenance row, the batch's
jobs rows (`FOR UPDATE SKIP LOCKED`, so a row a DLQ retry holds is left for later and nobody
waits on the pruner), the retries it unlinks, then the counters. It takes no event lock and
writes no event: deleting history is not a state change, and the events it deletes are older
than the newest one, which it always keeps, so the log's seq order is untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from conveyor.lifecycle import JobStatus, pruned_counter
from conveyor.store.base import Pruned, RetentionState
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import BUMP, Conn
from conveyor.store.postgres.rows import fetch

_TASK = "retention"


async def prune(
    conn: Conn,
    ages: Sequence[tuple[JobStatus, float]],
    holder: str,
    limit: int,
    hold_for_sec: float,
) -> Pruned:
    async with conn.transaction():
        held = await fetch(conn, sql.HOLD_MAINTENANCE,
                           {"holder": holder, "hold_for": hold_for_sec, "name": _TASK}, False)
        if not held:
            return Pruned(held=False)
        chosen: list[dict[str, Any]] = []
        for status, age_sec in ages:
            if len(chosen) >= limit:
                break
            chosen += await fetch(conn, sql.PRUNE_CANDIDATES[status],
                                  {"age": age_sec, "limit": limit - len(chosen)}, False)
        if not chosen:
            return Pruned(held=True)
        ids = sorted(row["id"] for row in chosen)
        cur = await conn.execute(sql.PRUNE_EVENTS, (ids,))
        events = max(0, cur.rowcount)
        retries = sorted(row["retried_by"] for row in chosen if row["retried_by"] is not None)
        if retries:
            await conn.execute(sql.PRUNE_UNLINK, (retries,))
        await conn.execute(sql.PRUNE_JOBS, (ids,))
        by_status = Counter(JobStatus(row["status"]) for row in chosen)
        names = sorted(pruned_counter(status) for status in by_status)
        await conn.execute(BUMP, (names, [by_status[JobStatus(name.split(":", 1)[1])]
                                          for name in names]))
        return Pruned(held=True, jobs=dict(by_status), events=events)


async def retention_state(conn: Conn) -> RetentionState:
    [row] = await fetch(conn, sql.RETENTION_STATE, {"name": _TASK}, False)
    pruned = {status: int(row["pruned"][pruned_counter(status)]) for status in JobStatus
              if pruned_counter(status) in row["pruned"]}
    return RetentionState(last_run_at=row["last_run_at"], holder=row["holder"], pruned=pruned)
