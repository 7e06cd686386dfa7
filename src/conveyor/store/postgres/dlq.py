"""What operators ask of the PostgreSQL store's dead-letter queue: redrive (retry by filter).

A count is one statement. A batch is one short transaction of four statements whatever its
size: lock the batch's jobs (a search of the failed jobs, `postgres.search`, in id order),
insert their copies and link the originals (one statement each, over arrays), then the
events (`append_tail`). Each job is copied exactly as `producers.retry` copies one, by the
same rules.
"""

from __future__ import annotations

from typing import Any

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import JobId, new_job_id
from conveyor.store import rules
from conveyor.store import search as rules_of_search
from conveyor.store.base import RedriveFilter, Redriven, RedriveSkipped
from conveyor.store.driver import RedriveBatch
from conveyor.store.postgres import search
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn, EventRow, append_tail, event

NOT_RETRIED = "retried_by IS NULL"
REDRIVABLE = f"status = '{JobStatus.FAILED.value}' AND {NOT_RETRIED}"


async def redrive(
    conn: Conn,
    filter: RedriveFilter,
    limit: int,
    after: JobId | None,
    trace_id: str | None,
    actor: str | None = None,
) -> RedriveBatch:
    """With a `limit` of 0, count the matching jobs; otherwise copy up to `limit` of them
    after `after`, in id order: each a new pending job, linked both ways, with `retry`'s two
    events."""
    jobs = filter.jobs()
    if limit <= 0:
        matched, exact, as_of = await search.count_matches(
            conn, rules_of_search.parts(jobs.status), rules_of_search.conditions(jobs),
            NOT_RETRIED)
        return RedriveBatch(matched, [], [], 0, after, as_of, exact)
    async with conn.transaction():
        scanned = await search.common_texts(conn, rules_of_search.conditions(jobs))
        cur = await conn.execute(search.pick(jobs, after, limit, REDRIVABLE, NOT_RETRIED,
                                             scanned=scanned), prepare=False)
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
                           data=rules.redrive_data(str(new_id), described, actor)),
                     JobStatus(old["status"])),
                ]
            await append_tail(conn, events)
    last = rows[-1]["id"] if rows else after
    return RedriveBatch(0, [Redriven(old["id"], new_id) for new_id, old in copies.items()],
                        skipped, len(rows), last)
