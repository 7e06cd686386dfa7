"""Periodic schedules on every driver: definitions, the tick each firing stands for, the
missed-tick policy, overlap, enable/disable, code declarations, and one job per tick when
two stores fire at once. Time is moved by stepping `next_run_at` back in SQL, never by
waiting for a tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import InvalidSchedule, ScheduleExists, ScheduleNotFound
from conveyor.models import Ack, JobStatus
from conveyor.schedules import ScheduleSpec, schedule
from conveyor.store import connect_store
from conveyor.store.base import Store
from tests.store.sql import run_raw

LONG = 300.0


async def move_back(store: Store, name: str, seconds: float) -> None:
    """As if `seconds` had passed: the schedule's ticks, and the ticks of the jobs it fired,
    move that far into the past."""
    sqlite = getattr(store, "path", None) is not None
    shift = f"- {seconds}" if sqlite else f"- interval '{seconds} seconds'"
    await run_raw(store, f"UPDATE schedules SET next_run_at = next_run_at {shift},"
                         f" last_run_at = last_run_at {shift} WHERE name = '{name}'")
    await run_raw(store, f"UPDATE jobs SET scheduled_for = scheduled_for {shift}"
                         f" WHERE schedule = '{name}'")


def every_five_minutes(name: str = "report", **kwargs: object) -> ScheduleSpec:
    return ScheduleSpec(name=name, task="report", cron="*/5 * * * *", **kwargs)  # type: ignore[arg-type]


async def test_a_new_schedule_waits_for_its_first_tick(store: Store) -> None:
    before = datetime.now(UTC)
    created = await store.create_schedule(every_five_minutes(payload={"kind": "daily"}))
    assert created.source == "api" and created.last_run_at is None
    assert created.next_run_at is not None
    assert before < created.next_run_at <= before + timedelta(minutes=5, seconds=1)
    assert created.next_run_at.minute % 5 == 0 and created.next_run_at.second == 0
    assert await store.get_schedule("report") == created
    assert [s.spec.name for s in await store.list_schedules()] == ["report"]
    firing = await store.fire_schedules(3)
    assert firing.fired == []
    assert firing.next_in_sec is not None and 0 < firing.next_in_sec <= 301
    with pytest.raises(ScheduleExists):
        await store.create_schedule(every_five_minutes())


@pytest.mark.parametrize("spec", [
    ScheduleSpec(name="s", task="t", cron="*/5 * * *"),
    ScheduleSpec(name="s", task="t", cron="* * * * * *"),
    ScheduleSpec(name="s", task="t", cron="@fortnightly"),
    ScheduleSpec(name="s", task="t", cron="61 * * * *"),
    ScheduleSpec(name="s", task="t", cron="* * * * *", interval_sec=60),
    ScheduleSpec(name="s", task="t"),
    ScheduleSpec(name="s", task="t", interval_sec=0.5),
    ScheduleSpec(name="s", task="t", cron="@hourly", timezone="Mars/Olympus"),
    ScheduleSpec(name=" s", task="t", cron="@hourly"),
])
async def test_bad_schedules_are_refused_and_nothing_is_written(
    store: Store, spec: ScheduleSpec
) -> None:
    with pytest.raises(InvalidSchedule):
        await store.create_schedule(spec)
    assert await store.list_schedules() == []


async def test_missed_ticks_fire_once_for_the_latest_tick(store: Store) -> None:
    await store.create_schedule(every_five_minutes(payload={"n": 1}, queue="reports"))
    await move_back(store, "report", 3600)  # an hour of ticks missed
    firing = await store.fire_schedules(2)
    now = datetime.now(UTC)
    [fired] = firing.fired
    assert fired.job_id is not None
    assert now - timedelta(minutes=5) < fired.tick <= now
    assert fired.tick.minute % 5 == 0 and fired.tick.second == 0
    job = await store.get(fired.job_id)
    assert (job.task, dict(job.payload), job.queue, job.max_retries) == (
        "report", {"n": 1}, "reports", 2)
    assert job.schedule == "report" and job.scheduled_for == fired.tick
    assert job.status is JobStatus.PENDING
    stored = await store.get_schedule("report")
    assert stored.last_run_at == fired.tick and stored.last_job_id == job.id
    assert stored.next_run_at is not None and stored.next_run_at > now
    assert (await store.fire_schedules(2)).fired == []  # the tick is spent
    assert (await store.list_jobs()).total == 1


async def test_an_interval_schedule_keeps_its_phase(store: Store) -> None:
    created = await store.create_schedule(ScheduleSpec(name="beat", task="t", interval_sec=60))
    assert created.next_run_at is not None
    await move_back(store, "beat", 210)
    moved = (await store.get_schedule("beat")).next_run_at
    assert moved is not None
    [fired] = (await store.fire_schedules(3)).fired
    assert fired.tick == moved + timedelta(seconds=120)  # the most recent of three due ticks
    stored = await store.get_schedule("beat")
    assert stored.next_run_at == fired.tick + timedelta(seconds=60)


async def test_overlap_false_skips_ticks_while_the_previous_job_is_live(store: Store) -> None:
    await store.create_schedule(every_five_minutes(overlap=False))
    await move_back(store, "report", 600)
    [first] = (await store.fire_schedules(3)).fired
    assert first.job_id is not None
    await move_back(store, "report", 600)
    [skipped] = (await store.fire_schedules(3)).fired  # pending: skipped
    assert skipped.job_id is None
    [lease] = await store.lease("w", ["default"], 1, LONG)
    await move_back(store, "report", 600)
    assert (await store.fire_schedules(3)).fired[0].job_id is None  # running: skipped
    await store.finish([Ack(lease)], "w")
    await move_back(store, "report", 600)
    [again] = (await store.fire_schedules(3)).fired
    assert again.job_id is not None and again.job_id != first.job_id
    assert (await store.get_schedule("report")).last_job_id == again.job_id
    assert (await store.list_jobs()).total == 2


async def test_disabled_schedules_do_not_fire_and_resume_from_their_next_tick(
    store: Store
) -> None:
    await store.create_schedule(ScheduleSpec(name="beat", task="t", interval_sec=30))
    disabled = await store.update_schedule("beat", {"enabled": False})
    assert not disabled.spec.enabled and disabled.next_run_at is None
    firing = await store.fire_schedules(3)
    assert firing.fired == [] and firing.next_in_sec is None
    enabled = await store.update_schedule("beat", {"enabled": True})
    assert enabled.next_run_at is not None and enabled.next_run_at > datetime.now(UTC)
    assert (await store.fire_schedules(3)).fired == []  # ticks missed while off are gone


async def test_changing_the_timing_moves_the_next_tick(store: Store) -> None:
    created = await store.create_schedule(ScheduleSpec(name="beat", task="t", interval_sec=3600))
    same = await store.update_schedule("beat", {"payload": {"a": 1}})
    assert same.next_run_at == created.next_run_at and dict(same.spec.payload) == {"a": 1}
    switched = await store.update_schedule("beat", {"cron": "@daily"})
    assert switched.spec.cron == "@daily" and switched.spec.interval_sec is None
    assert switched.next_run_at is not None
    assert (switched.next_run_at.hour, switched.next_run_at.minute) == (0, 0)
    with pytest.raises(InvalidSchedule):
        await store.update_schedule("beat", {"cron": "nope"})
    with pytest.raises(InvalidSchedule):
        await store.update_schedule("beat", {"name": "other"})
    with pytest.raises(ScheduleNotFound):
        await store.update_schedule("missing", {"enabled": False})


async def test_a_cron_schedule_ticks_in_its_time_zone(store: Store) -> None:
    created = await store.create_schedule(ScheduleSpec(
        name="morning", task="t", cron="30 9 * * *", timezone="America/New_York"))
    assert created.next_run_at is not None
    local = created.next_run_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 30)


async def test_code_declarations_keep_the_operators_switch(store: Store) -> None:
    declared = schedule("nightly", "report", cron="0 2 * * *", payload={"v": 1})
    await store.sync_schedules([declared])
    first = await store.get_schedule("nightly")
    assert first.source == "code" and first.spec.enabled
    await store.update_schedule("nightly", {"enabled": False})
    await store.sync_schedules([schedule("nightly", "report", cron="0 2 * * *",
                                         payload={"v": 2})])
    again = await store.get_schedule("nightly")
    assert dict(again.spec.payload) == {"v": 2}
    assert not again.spec.enabled and again.next_run_at is None  # still off


async def test_delete_keeps_the_jobs_it_fired(store: Store) -> None:
    await store.create_schedule(every_five_minutes())
    await move_back(store, "report", 600)
    [fired] = (await store.fire_schedules(3)).fired
    await store.delete_schedule("report")
    with pytest.raises(ScheduleNotFound):
        await store.get_schedule("report")
    with pytest.raises(ScheduleNotFound):
        await store.delete_schedule("report")
    assert fired.job_id is not None
    assert (await store.get(fired.job_id)).schedule == "report"


async def test_two_stores_firing_at_once_make_one_job_per_tick(
    store: Store, database_url: str
) -> None:
    other = await connect_store(database_url)
    try:
        for index in range(5):
            await store.create_schedule(ScheduleSpec(name=f"s{index}", task="t",
                                                     interval_sec=60))
            await move_back(store, f"s{index}", 90)
        results = await asyncio.gather(*(s.fire_schedules(3) for s in (store, other, store,
                                                                        other)))
    finally:
        await other.close()
    fired = [f for firing in results for f in firing.fired]
    assert sorted(f.name for f in fired) == [f"s{i}" for i in range(5)]
    assert all(f.job_id is not None for f in fired)
    assert (await store.list_jobs(limit=100)).total == 5
