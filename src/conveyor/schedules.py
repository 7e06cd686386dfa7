"""Periodic schedules: what a schedule is, when its ticks fall, and how code declares one.

A schedule fires a job of `task` with `payload` on every tick of a cron expression (five
fields, or an alias such as `@hourly`, read in the schedule's time zone) or of a fixed
interval. Schedules live in the store (`schedules` table): the ones declared in code are
written there by each worker at start (`source = "code"`), the ones made over the API
(`source = "api"`) only there. Workers fire them; the row lock and the `next_run_at` step
taken in the firing transaction make every tick fire exactly once however many processes
run, and the database's clock decides when a tick is due.

The policy for ticks missed while nothing ran (every worker down, or busy past a tick): when
a worker next looks, the schedule fires **once**, for the most recent tick that is due, and
then waits for the next tick after now. There is no storm of catch-up jobs, and the job's
`scheduled_for` says which tick it stands for. Ticks that fall while a schedule is disabled
are not fired at all: enabling it again waits for its next tick. With `overlap=False`,
a tick whose previous job is still pending or running fires nothing (the tick is skipped).

The cron arithmetic is croniter's; this module only chooses which of its answers to use.

Declaring in code, in a module the worker imports (`--import`), like `@task`:

    @task("cleanup", cron="*/5 * * * *")
    def cleanup(payload): ...

    nightly = schedule("nightly-report", "report", cron="0 2 * * *",
                       timezone="Europe/Berlin", payload={"kind": "daily"})

A `schedule(...)` is found as a module attribute, as tasks are; nothing is registered at
import time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from conveyor.errors import InvalidSchedule
from conveyor.models import JobId, JSONValue, NewJob
from conveyor.wire import NAME_PATTERN

ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
"""The cron aliases accepted besides five-field expressions."""

MIN_INTERVAL_SEC = 1.0
"""Shorter intervals would be fired late anyway: a worker looks at most once a second."""

_NAME = re.compile(NAME_PATTERN)

Source = Literal["code", "api"]

_EDITABLE = frozenset({"task", "payload", "queue", "tenant", "cron", "interval_sec",
                       "timezone", "enabled", "overlap", "priority", "max_retries"})
_TIMING = frozenset({"cron", "interval_sec", "timezone"})


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule's definition: what to fire, and when. Make one with `schedule(...)` (in
    code) or from a `POST /schedules` body; `checked()` says what is wrong with it."""

    name: str
    task: str
    cron: str | None = None
    interval_sec: float | None = None
    payload: Mapping[str, JSONValue] = field(default_factory=dict)
    timezone: str = "UTC"
    queue: str = "default"
    tenant: str = "default"
    enabled: bool = True
    overlap: bool = True
    """False: a tick whose previous job is still pending or running is skipped."""
    priority: int = 0
    max_retries: int | None = None
    """None: the configured MAX_RETRIES of the worker that fires it."""

    def checked(self) -> ScheduleSpec:
        """This spec, or `InvalidSchedule` saying what is wrong (one thing at a time)."""
        for what, value in (("name", self.name), ("task", self.task), ("queue", self.queue),
                            ("tenant", self.tenant)):
            if not _NAME.match(value):
                raise InvalidSchedule(
                    f"a schedule's {what} must be 1 to 128 letters, digits or `_.:-`, "
                    f"starting with a letter or digit: {value!r}")
        if (self.cron is None) == (self.interval_sec is None):
            raise InvalidSchedule("give a schedule either `cron` or `interval_sec`")
        if self.cron is not None:
            check_cron(self.cron)
        if self.interval_sec is not None and not (
                math.isfinite(self.interval_sec) and self.interval_sec >= MIN_INTERVAL_SEC):
            raise InvalidSchedule(
                f"`interval_sec` must be at least {MIN_INTERVAL_SEC:g} second")
        zone(self.timezone)
        if self.max_retries is not None and self.max_retries < 0:
            raise InvalidSchedule("`max_retries` cannot be negative")
        return self

    def changed(self, changes: Mapping[str, Any]) -> ScheduleSpec:
        """This spec with `changes` (a PATCH body's fields) applied and checked. Giving
        `cron` clears `interval_sec` and the other way round, so a schedule can switch."""
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise InvalidSchedule(f"cannot change {', '.join(sorted(unknown))}")
        values = dict(changes)
        if values.get("cron") is not None:
            values.setdefault("interval_sec", None)
        if values.get("interval_sec") is not None:
            values.setdefault("cron", None)
        return replace(self, **values).checked()

    def retimed(self, other: ScheduleSpec) -> bool:
        """Whether `other` ticks at different times than this spec."""
        return any(getattr(self, name) != getattr(other, name) for name in _TIMING)

    # -- ticks -------------------------------------------------------------------------------
    def first_tick_after(self, now: datetime) -> datetime:
        """The first tick strictly after `now` (UTC)."""
        if self.interval_sec is not None:
            return now + timedelta(seconds=self.interval_sec)
        assert self.cron is not None
        local = now.astimezone(zone(self.timezone))
        return _utc(croniter(self.cron, local).get_next(datetime))

    def due_tick(self, next_run_at: datetime, now: datetime) -> tuple[datetime, datetime]:
        """For a schedule due since `next_run_at` (<= `now`): the tick to fire (the most
        recent one that is due: missed ticks collapse into it) and the next tick after
        `now`."""
        if self.interval_sec is not None:
            step = timedelta(seconds=self.interval_sec)
            missed = int((now - next_run_at) / step)
            tick = next_run_at + missed * step
            return tick, tick + step
        assert self.cron is not None
        local = (now + timedelta(microseconds=1)).astimezone(zone(self.timezone))
        latest = _utc(croniter(self.cron, local).get_prev(datetime))
        return max(latest, next_run_at), self.first_tick_after(now)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored: its definition, where it was declared, and its ticks."""

    spec: ScheduleSpec
    source: Source
    next_run_at: datetime | None
    """The next tick to fire; None while disabled."""
    last_run_at: datetime | None
    """The last tick fired (a job's `scheduled_for`), or skipped for overlap."""
    last_job_id: JobId | None
    created_at: datetime
    updated_at: datetime


def firing_plan(schedule: Schedule, now: datetime) -> tuple[datetime | None, datetime]:
    """For a due schedule: the tick to fire now (None: none newer than the last one fired,
    which only a clock stepped back can cause) and the next tick after `now`."""
    assert schedule.next_run_at is not None
    tick, following = schedule.spec.due_tick(schedule.next_run_at, now)
    if schedule.last_run_at is not None and tick <= schedule.last_run_at:
        return None, following
    return tick, following


@dataclass(frozen=True, slots=True)
class Fired:
    """One tick a worker handled: the job it made, or None when skipped for overlap."""

    name: str
    tick: datetime
    job_id: JobId | None


@dataclass(frozen=True, slots=True)
class Firing:
    """What one `fire_schedules` call did, and how long until the next tick is due."""

    fired: list[Fired]
    next_in_sec: float | None
    """Seconds until the earliest enabled schedule's next tick; None: there is none."""


def next_run(spec: ScheduleSpec, now: datetime, previous: Schedule | None) -> datetime | None:
    """`next_run_at` for `spec` written at `now` over `previous` (None: a new schedule):
    None while disabled; the stored tick while the schedule stays enabled with the same
    timing; otherwise the first tick after now (re-enabling does not fire the ticks missed
    while disabled)."""
    if not spec.enabled:
        return None
    if (previous is not None and previous.next_run_at is not None and previous.spec.enabled
            and not previous.spec.retimed(spec)):
        return previous.next_run_at
    return spec.first_tick_after(now)


def declared(spec: ScheduleSpec, previous: Schedule | None) -> ScheduleSpec:
    """What a code declaration writes over the stored schedule: the code's definition, but
    the stored `enabled`, since an operator's enable or disable outlives restarts (the
    code's `enabled` is the state a new schedule starts in)."""
    return spec if previous is None else replace(spec, enabled=previous.spec.enabled)


def job_for_tick(spec: ScheduleSpec, default_max_retries: int) -> NewJob:
    """The job a tick fires. It is not rate limited: the schedule is the operator's own."""
    return NewJob(
        task=spec.task, payload=dict(spec.payload), tenant=spec.tenant, queue=spec.queue,
        priority=spec.priority,
        max_retries=default_max_retries if spec.max_retries is None else spec.max_retries,
    )


def schedule(
    name: str,
    task: str,
    *,
    cron: str | None = None,
    every: float | timedelta | None = None,
    payload: Mapping[str, JSONValue] | None = None,
    timezone: str = "UTC",
    queue: str = "default",
    tenant: str = "default",
    enabled: bool = True,
    overlap: bool = True,
    priority: int = 0,
    max_retries: int | None = None,
) -> ScheduleSpec:
    """Declare a schedule in code (assign it to a module attribute of a module the worker
    imports). `every` is an interval in seconds or a `timedelta`; or give `cron`. Raises
    `InvalidSchedule` at import, so a bad expression stops the worker from starting."""
    interval = every.total_seconds() if isinstance(every, timedelta) else every
    return ScheduleSpec(
        name=name, task=task, cron=cron, interval_sec=None if interval is None
        else float(interval), payload=dict(payload or {}), timezone=timezone, queue=queue,
        tenant=tenant, enabled=enabled, overlap=overlap, priority=priority,
        max_retries=max_retries,
    ).checked()


def check_cron(expression: str) -> None:
    """Five fields (minute hour day month weekday) or an alias; croniter decides the rest."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidSchedule(
                f"unknown cron alias {text!r}; use one of {', '.join(sorted(ALIASES))}")
        return
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise InvalidSchedule(
            f"{expression!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week)")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r} (use an IANA name such as "
                              "'Europe/Berlin')") from None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
