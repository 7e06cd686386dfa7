"""Periodic schedules on PostgreSQL: their definitions, and firing the due ones.

Firing is one transaction per call: the due rows are locked with `FOR UPDATE SKIP LOCKED`
(a worker firing a schedule makes the others skip it, never wait), their jobs inserted and
marked with the schedule and tick, `next_run_at` stepped, and the jobs' events appended
last (`append_tail`). Two workers therefore never fire one tick, and `jobs_schedule_tick`
(a unique index on the schedule and tick) would refuse it if they tried. The tick
arithmetic is `conveyor.schedules`'s, given the database's `now()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from conveyor.errors import ScheduleExists, ScheduleNotFound
from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import JobId, NewJob
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
from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.events import Conn, append_tail, event
from conveyor.store.postgres.producers import _insert
from conveyor.store.postgres.rows import READ, dumps, fetch

_LIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


async def _now(conn: Conn) -> datetime:
    [row] = await fetch(conn, sql.NOW, None, False)
    moment: datetime = row["now"]
    return moment


async def _locked(conn: Conn, name: str) -> tuple[Schedule | None, datetime]:
    rows = await fetch(conn, sql.SCHEDULE_FOR_UPDATE, (name,), False)
    if not rows:
        return None, await _now(conn)
    return READ.schedule(rows[0]), rows[0]["now"]


async def _write(conn: Conn, spec: ScheduleSpec, source: Source, previous: Schedule | None,
                 now: datetime) -> Schedule:
    [row] = await fetch(conn, sql.WRITE_SCHEDULE, {
        "name": spec.name, "task": spec.task, "payload": dumps(dict(spec.payload)),
        "queue": spec.queue, "tenant": spec.tenant, "cron": spec.cron,
        "interval_sec": spec.interval_sec, "timezone": spec.timezone,
        "enabled": spec.enabled, "overlap": spec.overlap, "priority": spec.priority,
        "max_retries": spec.max_retries, "source": source,
        "next_run_at": next_run(spec, now, previous),
    }, False)
    return READ.schedule(row)


async def sync_schedules(conn: Conn, specs: list[ScheduleSpec]) -> None:
    async with conn.transaction():
        for spec in sorted(specs, key=lambda s: s.name):  # one lock order for every worker
            previous, now = await _locked(conn, spec.name)
            await _write(conn, declared(spec, previous), "code", previous, now)


async def create_schedule(conn: Conn, spec: ScheduleSpec) -> Schedule:
    async with conn.transaction():
        previous, now = await _locked(conn, spec.name)
        if previous is not None:
            raise ScheduleExists(f"a schedule named {spec.name!r} exists already")
        return await _write(conn, spec, "api", None, now)


async def update_schedule(conn: Conn, name: str, changes: Mapping[str, Any]) -> Schedule:
    async with conn.transaction():
        previous, now = await _locked(conn, name)
        if previous is None:
            raise ScheduleNotFound(f"no schedule named {name!r}")
        return await _write(conn, previous.spec.changed(changes), previous.source, previous,
                            now)


async def delete_schedule(conn: Conn, name: str) -> None:
    if not await fetch(conn, sql.DELETE_SCHEDULE, (name,), False):
        raise ScheduleNotFound(f"no schedule named {name!r}")


async def get_schedule(conn: Conn, name: str) -> Schedule:
    rows = await fetch(conn, sql.SCHEDULE, (name,), False)
    if not rows:
        raise ScheduleNotFound(f"no schedule named {name!r}")
    return READ.schedule(rows[0])


async def list_schedules(conn: Conn) -> list[Schedule]:
    return [READ.schedule(row) for row in await fetch(conn, sql.LIST_SCHEDULES, None, False)]


async def fire_schedules(conn: Conn, default_max_retries: int) -> Firing:
    """Fire every due schedule once (see `conveyor.schedules` for the missed-tick policy)."""
    async with conn.transaction():
        rows = await fetch(conn, sql.DUE_SCHEDULES, None, False)
        fired: list[Fired] = []
        made: list[tuple[int, NewJob]] = []
        steps: list[tuple[datetime, datetime, str]] = []
        for row in rows:
            schedule = READ.schedule(row)
            tick, following = firing_plan(schedule, row["now"])
            if tick is None:
                await conn.execute(sql.STEP_SCHEDULE, (following, schedule.last_run_at, None,
                                                       schedule.spec.name))
                continue
            steps.append((following, tick, schedule.spec.name))
            if schedule.spec.overlap or not await _still_live(conn, schedule.last_job_id):
                made.append((len(fired), job_for_tick(schedule.spec, default_max_retries)))
            fired.append(Fired(schedule.spec.name, tick, None))
        created: list[dict[str, Any]] = []
        if made:
            ids, _, _ = await _insert(conn, sql.INSERT_JOBS, [job for _, job in made],
                                      range(len(made)))
            for (index, _), job_id in zip(made, ids, strict=True):
                fired[index] = Fired(fired[index].name, fired[index].tick, job_id)
            created = await fetch(conn, sql.MARK_SCHEDULED, (
                list(ids), [fired[index].name for index, _ in made],
                [fired[index].tick for index, _ in made]), False)
        for (following, tick, name), done in zip(steps, fired, strict=True):
            await conn.execute(sql.STEP_SCHEDULE, (following, tick, done.job_id, name))
        await append_tail(conn, [(event(row, EventType.CREATED), None) for row in created])
        [soonest] = await fetch(conn, sql.SOONEST_SCHEDULE, None, False)
    seconds = soonest["seconds"]
    return Firing(fired, None if seconds is None else float(seconds))


async def _still_live(conn: Conn, job_id: JobId | None) -> bool:
    """Whether the schedule's previous job is still pending or running."""
    if job_id is None:
        return False
    rows = await fetch(conn, sql.JOB_STATUS, (job_id,), False)
    return bool(rows) and rows[0]["status"] in _LIVE
