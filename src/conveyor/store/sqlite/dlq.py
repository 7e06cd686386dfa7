"""What operators ask of the SQLite store's dead-letter queue: redrive (retry by filter).

One call is one batch in one `BEGIN IMMEDIATE` transaction on the writer thread (or, for a
count alone, a read on the reader's snapshot); `DriverStore.redrive` strings batches
together. Each job is copied exactly as `producers.retry` copies one, by the same rules.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import JobId, new_job_id
from conveyor.store import rules
from conveyor.store import search as rules_of_search
from conveyor.store.base import RedriveFilter, Redriven, RedriveSkipped
from conveyor.store.driver import RedriveBatch
from conveyor.store.sqlite import search
from conveyor.store.sqlite.events import Change, append
from conveyor.store.sqlite.rows import JOB_COLUMNS, READ

NOT_RETRIED = "retried_by IS NULL"

_INSERT = (
    "INSERT INTO jobs (id, tenant, queue, task, payload, status, priority, attempts,"
    " max_retries, run_at, created_at, retry_of, trace_id, timeout_sec, unique_key,"
    " unique_while)"
    " SELECT :new_id, tenant, queue, task, payload, 'pending', priority, 0, max_retries,"
    " :now, :now, id, coalesce(:trace_id, trace_id), timeout_sec, unique_key, unique_while"
    " FROM jobs WHERE id = :old_id"
    f" RETURNING {JOB_COLUMNS}"
)


def redrive(
    conn: sqlite3.Connection,
    now: float,
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
        matched, exact = search.count_matches(
            conn, rules_of_search.parts(jobs.status), rules_of_search.conditions(jobs),
            NOT_RETRIED)
        return RedriveBatch(matched, [], [], 0, after, datetime.fromtimestamp(now, UTC), exact)
    rows = search.pick(conn, jobs, after, limit, NOT_RETRIED)
    described = filter.describe()
    redriven: list[Redriven] = []
    skipped: list[RedriveSkipped] = []
    changes: list[Change] = []
    for row in rows:
        refusal = rules.redrive_refusal(row["status"], row["retried_by"],
                                        json.loads(row["payload"]))
        if refusal is not None:
            skipped.append(RedriveSkipped(READ.id(row["id"]), refusal))
            continue
        new_id = str(new_job_id())
        new_row = conn.execute(_INSERT, {"new_id": new_id, "now": now, "trace_id": trace_id,
                                         "old_id": row["id"]}).fetchone()
        conn.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (new_id, row["id"]))
        changes += [
            Change(new_id, EventType.CREATED, None, new_row["status"], 0, row["tenant"],
                   row["task"], data=rules.redriven_created_data(row["id"])),
            Change(row["id"], EventType.RETRIED, JobStatus(row["status"]), row["status"],
                   row["attempts"], row["tenant"], row["task"],
                   data=rules.redrive_data(new_id, described, actor)),
        ]
        redriven.append(Redriven(READ.id(row["id"]), READ.id(new_id)))
    append(conn, now, changes)
    last = READ.id(rows[-1]["id"]) if rows else after
    return RedriveBatch(0, redriven, skipped, len(rows), last)
