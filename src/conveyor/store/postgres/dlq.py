"""What operators ask of the PostgreSQL store's dead-letter queue: redrive (retry by filter).

A count is one statement. A batch is one short transaction of four statements whatever its
size: lock the batch's jobs (`REDRIVE_PICK`, in id order), insert their copies and link
the originals (one statement each, over arrays), then the events (`append_tail`). Each job
is copied exactly as `producers.retry` copies one, by the same rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import JobId, new_job_id
from conveyor.store import rules
from conveyor.store.base import RedriveFilter, Redriven, RedriveSkipped
from conveyor.store.driver import RedriveBatch
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn, EventRow, append_tail, event


def _parameters(filter: RedriveFilter) -> dict[str, str | datetime | None]:
    return {"task": filter.task, "queue": filter.queue, "tenant": filter.tenant,
            "error": filter.error, "failed_after": filter.failed_after,
            "failed_before": filter.failed_before}


async def redrive(
    conn: Conn,
    filter: RedriveFilter,
    limit: int,
    after: JobId | None,
    trace_id: str | None,
) -> RedriveBatch:
    """With a `limit` of 0, count the matching jobs; otherwise copy up to `limit` of them
    after `after`, in id order: each a new pending job, linked both ways, with `retry`'s two
    events."""
    matching: dict[str, Any] = _parameters(filter)
    if limit <= 0:
        cur = await conn.execute(sql.REDRIVE_COUNT, matching)
        row = await cur.fetchone()
        assert row is not None
        return RedriveBatch(int(row["n"]), [], [], 0, after, row["as_of"])
    async with conn.transaction():
        cur = await conn.execute(sql.REDRIVE_PICK, {**matching, "after": after, "limit": limit})
        rows = await cur.fetchall()
        skipped: list[RedriveSkipped] = []
        copies: dict[JobId, Any] = {}  # new id → old row
        for row in rows:
            refusal = rules.redrive_refusal(row["status"], row["retried_by"], row["payload"])
            if refusal is None:
                copies[new_job_id()] = row
            else:
                skipped.append(RedriveSkipped(row["id"], refusal))
        if copies:
            ids = {"new_ids": list(copies), "old_ids": [old["id"] for old in copies.values()],
                   "trace_id": trace_id}
            cur = await conn.execute(sql.REDRIVE_INSERT, ids)
            new_rows = {new["id"]: new for new in await cur.fetchall()}
            await conn.execute(sql.REDRIVE_LINK, ids)
            described = filter.describe()
            events: list[tuple[EventRow, JobStatus | None]] = []
            for new_id, old in copies.items():
                events += [
                    (event(new_rows[new_id], EventType.CREATED,
                           data=rules.redriven_created_data(str(old["id"]))), None),
                    (event(old, EventType.RETRIED,
                           data=rules.redrive_data(str(new_id), described)),
                     JobStatus(old["status"])),
                ]
            await append_tail(conn, events)
    last = rows[-1]["id"] if rows else after
    return RedriveBatch(0, [Redriven(old["id"], new_id) for new_id, old in copies.items()],
                        skipped, len(rows), last)
