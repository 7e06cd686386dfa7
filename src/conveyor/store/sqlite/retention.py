"""Retention on SQLite: deleting old finished jobs with their events, a batch per call, under
the retention lease (a row in `maintenance`). Each call is one IMMEDIATE transaction on the
writer, so it is kept small: the other writers queue behind it on the file's one lock."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from conveyor.lifecycle import JobStatus, pruned_counter
from conveyor.store.base import Pruned, RetentionState

_TASK = "retention"

# The oldest finished jobs of one status past its age (`jobs_status_finished`), but not:
# a retry while the job it retried is stored (`retry_of` set: the chain goes oldest first),
# a retried job whose retry has not finished, nor the job with the newest event (deleting
# that event would move the log's last seq back, and readers treat seq as only growing).
_CANDIDATES = """
SELECT j.id, j.status, j.retried_by FROM jobs AS j
 WHERE j.status = ? AND j.finished_at < ? AND j.retry_of IS NULL
   AND j.id IS NOT (SELECT job_id FROM job_events ORDER BY seq DESC LIMIT 1)
   AND (j.retried_by IS NULL
        OR EXISTS (SELECT 1 FROM jobs AS r WHERE r.id = j.retried_by
                    AND r.finished_at IS NOT NULL))
 ORDER BY j.finished_at
 LIMIT ?
"""


def _hold(conn: sqlite3.Connection, now: float, holder: str, hold_for_sec: float) -> bool:
    """Take or renew the retention lease; False while another holder's is live."""
    row = conn.execute(
        "UPDATE maintenance SET holder = ?, held_until = ?, last_run_at = ?"
        " WHERE name = ? AND (holder = ? OR held_until IS NULL OR held_until < ?)"
        " RETURNING name",
        (holder, now + hold_for_sec, now, _TASK, holder, now),
    ).fetchone()
    return row is not None


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def prune(
    conn: sqlite3.Connection,
    now: float,
    ages: Sequence[tuple[JobStatus, float]],
    holder: str,
    limit: int,
    hold_for_sec: float,
) -> Pruned:
    if not _hold(conn, now, holder, hold_for_sec):
        return Pruned(held=False)
    chosen: list[sqlite3.Row] = []
    for status, age_sec in ages:
        if len(chosen) >= limit:
            break
        chosen += conn.execute(
            _CANDIDATES, (status.value, now - age_sec, limit - len(chosen))).fetchall()
    if not chosen:
        return Pruned(held=True)
    ids = [row["id"] for row in chosen]
    events = conn.execute(
        f"DELETE FROM job_events WHERE job_id IN ({_in(ids)})", ids).rowcount
    retries = [row["retried_by"] for row in chosen if row["retried_by"] is not None]
    if retries:  # their original goes: they are chain heads now
        conn.execute(f"UPDATE jobs SET retry_of = NULL WHERE id IN ({_in(retries)})", retries)
    conn.execute(f"DELETE FROM jobs WHERE id IN ({_in(ids)})", ids)
    by_status = Counter(JobStatus(row["status"]) for row in chosen)
    conn.executemany(
        "INSERT INTO counters (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        [(pruned_counter(status), n) for status, n in sorted(by_status.items())],
    )
    return Pruned(held=True, jobs=dict(by_status), events=events)


def retention_state(conn: sqlite3.Connection, now: float) -> RetentionState:
    row = conn.execute(
        "SELECT holder, last_run_at FROM maintenance WHERE name = ?", (_TASK,)).fetchone()
    pruned = {
        status: int(value) for status in JobStatus
        for (value,) in conn.execute(
            "SELECT value FROM counters WHERE name = ?", (pruned_counter(status),))
    }
    last = None if row is None or row["last_run_at"] is None else row["last_run_at"]
    return RetentionState(
        last_run_at=None if last is None else datetime.fromtimestamp(last, UTC),
        holder=None if row is None else row["holder"],
        pruned=pruned,
    )
