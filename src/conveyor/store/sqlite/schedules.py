"""Periodic schedules on SQLite: their definitions, and firing the due ones.

Writes run in one `BEGIN IMMEDIATE` transaction on the writer thread, so two processes firing
at once are serialized by the file's write lock: the second sees `next_run_at` already
stepped and fires nothing. The tick arithmetic is `conveyor.schedules`'s; `now` is the
store's clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conveyor.errors import ScheduleExists, ScheduleNotFound
from conveyor.lifecycle import JobStatus
from conveyor.schedules import (
    Fired,
    Firing,
    Schedule,
    ScheduleSpec,
    Source,
    declared,
    firing_plan,
    job_for_tick,
    next_run,
)
from conveyor.store.sqlite.events import Change, append
from conveyor.store.sqlite.producers import _insert
from conveyor.store.sqlite.rows import READ, SCHEDULE_COLUMNS, dumps

_LIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


def _moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _find(conn: sqlite3.Connection, name: str) -> Schedule | None:
    row = conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?", (name,)).fetchone()
    return None if row is None else READ.schedule(row)


def _write(conn: sqlite3.Connection, now: float, spec: ScheduleSpec, source: Source,
           previous: Schedule | None) -> Schedule:
    """Insert or replace the definition, keeping the firing state of `previous`."""
    row = conn.execute(
        "INSERT INTO schedules (name, task, payload, queue, tenant, cron, interval_sec,"
        " timezone, enabled, overlap, priority, max_retries, source, next_run_at,"
        " last_run_at, last_job_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET task = excluded.task, payload = excluded.payload,"
        " queue = excluded.queue, tenant = excluded.tenant, cron = excluded.cron,"
        " interval_sec = excluded.interval_sec, timezone = excluded.timezone,"
        " enabled = excluded.enabled, overlap = excluded.overlap,"
        " priority = excluded.priority, max_retries = excluded.max_retries,"
        " source = excluded.source, next_run_at = excluded.next_run_at,"
        f" updated_at = excluded.updated_at RETURNING {SCHEDULE_COLUMNS}",
        (spec.name, spec.task, dumps(dict(spec.payload)), spec.queue, spec.tenant, spec.cron,
         spec.interval_sec, spec.timezone, spec.enabled, spec.overlap, spec.priority,
         spec.max_retries, source, _epoch(next_run(spec, _moment(now), previous)), now, now),
    ).fetchone()
    return READ.schedule(row)


def sync_schedules(conn: sqlite3.Connection, now: float, specs: list[ScheduleSpec]) -> None:
    for spec in specs:
        previous = _find(conn, spec.name)
        _write(conn, now, declared(spec, previous), "code", previous)


def create_schedule(conn: sqlite3.Connection, now: float, spec: ScheduleSpec) -> Schedule:
    if _find(conn, spec.name) is not None:
        raise ScheduleExists(f"a schedule named {spec.name!r} exists already")
    return _write(conn, now, spec, "api", None)


def update_schedule(
    conn: sqlite3.Connection, now: float, name: str, changes: Mapping[str, Any]
) -> Schedule:
    previous = _find(conn, name)
    if previous is None:
        raise ScheduleNotFound(f"no schedule named {name!r}")
    return _write(conn, now, previous.spec.changed(changes), previous.source, previous)


def delete_schedule(conn: sqlite3.Connection, now: float, name: str) -> None:
    if conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount == 0:
        raise ScheduleNotFound(f"no schedule named {name!r}")


def get_schedule(conn: sqlite3.Connection, now: float, name: str) -> Schedule:
    found = _find(conn, name)
    if found is None:
        raise ScheduleNotFound(f"no schedule named {name!r}")
    return found


def list_schedules(conn: sqlite3.Connection, now: float) -> list[Schedule]:
    return [READ.schedule(row) for row in conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name")]


def fire_schedules(conn: sqlite3.Connection, now: float, default_max_retries: int) -> Firing:
    """Fire every due schedule once (see `conveyor.schedules` for the missed-tick policy)."""
    moment = _moment(now)
    fired: list[Fired] = []
    changes: list[Change] = []
    due = [READ.schedule(row) for row in conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules"
        " WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at", (now,))]
    for schedule in due:
        tick, following = firing_plan(schedule, moment)
        if tick is None:
            conn.execute("UPDATE schedules SET next_run_at = ? WHERE name = ?",
                         (following.timestamp(), schedule.spec.name))
            continue
        job_id = None
        if schedule.spec.overlap or not _still_live(conn, schedule):
            created = _insert(conn, now, job_for_tick(schedule.spec, default_max_retries),
                              changes).job
            conn.execute("UPDATE jobs SET schedule = ?, scheduled_for = ? WHERE id = ?",
                         (schedule.spec.name, tick.timestamp(), str(created.id)))
            job_id = created.id
        conn.execute(
            "UPDATE schedules SET next_run_at = ?, last_run_at = ?,"
            " last_job_id = coalesce(?, last_job_id) WHERE name = ?",
            (following.timestamp(), tick.timestamp(), None if job_id is None else str(job_id),
             schedule.spec.name))
        fired.append(Fired(schedule.spec.name, tick, job_id))
    append(conn, now, changes)
    [soonest] = conn.execute(
        "SELECT min(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL").fetchone()
    return Firing(fired, None if soonest is None else float(soonest) - now)


def _still_live(conn: sqlite3.Connection, schedule: Schedule) -> bool:
    """Whether the schedule's previous job is still pending or running."""
    if schedule.last_job_id is None:
        return False
    row = conn.execute("SELECT status FROM jobs WHERE id = ?",
                       (str(schedule.last_job_id),)).fetchone()
    return row is not None and row["status"] in _LIVE

