"""The tick arithmetic of `conveyor.schedules` (croniter's answers, and which of them a
firing uses), and how code declares schedules."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor import schedule, task
from conveyor.errors import InvalidSchedule
from conveyor.schedules import Schedule, ScheduleSpec, firing_plan
from conveyor.tasks import TaskRegistry


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def stored(spec: ScheduleSpec, next_run_at: datetime,
           last_run_at: datetime | None = None) -> Schedule:
    return Schedule(spec, "api", next_run_at, last_run_at, None, next_run_at, next_run_at)


def test_the_first_tick_is_strictly_after_now() -> None:
    spec = ScheduleSpec(name="s", task="t", cron="*/5 * * * *")
    assert spec.first_tick_after(at("2026-01-01T10:05:00+00:00")) == at("2026-01-01T10:10:00Z")
    assert spec.first_tick_after(at("2026-01-01T10:05:01+00:00")) == at("2026-01-01T10:10:00Z")
    hourly = ScheduleSpec(name="s", task="t", cron="@hourly")
    assert hourly.first_tick_after(at("2026-01-01T10:59:59Z")) == at("2026-01-01T11:00:00Z")


def test_cron_reads_the_time_zone_across_daylight_saving() -> None:
    spec = ScheduleSpec(name="s", task="t", cron="30 9 * * *", timezone="Europe/Berlin")
    winter = spec.first_tick_after(at("2026-03-27T12:00:00Z"))
    summer = spec.first_tick_after(winter)  # clocks move forward on 2026-03-29 at 02:00
    assert winter == at("2026-03-28T08:30:00Z")  # 09:30 CET
    assert summer == at("2026-03-29T07:30:00Z")  # 09:30 CEST
    assert summer.astimezone(ZoneInfo("Europe/Berlin")).hour == 9


def test_missed_ticks_collapse_into_the_most_recent() -> None:
    spec = ScheduleSpec(name="s", task="t", cron="*/5 * * * *")
    tick, following = firing_plan(stored(spec, at("2026-01-01T08:00:00Z")),
                                  at("2026-01-01T10:07:00Z"))
    assert (tick, following) == (at("2026-01-01T10:05:00Z"), at("2026-01-01T10:10:00Z"))
    exactly = firing_plan(stored(spec, at("2026-01-01T10:05:00Z")), at("2026-01-01T10:05:00Z"))
    assert exactly == (at("2026-01-01T10:05:00Z"), at("2026-01-01T10:10:00Z"))


def test_intervals_keep_their_phase() -> None:
    spec = ScheduleSpec(name="s", task="t", interval_sec=60)
    tick, following = firing_plan(stored(spec, at("2026-01-01T10:00:30Z")),
                                  at("2026-01-01T10:03:45Z"))
    assert (tick, following) == (at("2026-01-01T10:03:30Z"), at("2026-01-01T10:04:30Z"))


def test_a_tick_not_newer_than_the_last_is_not_fired_again() -> None:
    spec = ScheduleSpec(name="s", task="t", cron="*/5 * * * *")
    tick, following = firing_plan(
        stored(spec, at("2026-01-01T10:00:00Z"), last_run_at=at("2026-01-01T10:05:00Z")),
        at("2026-01-01T10:06:00Z"))
    assert tick is None and following == at("2026-01-01T10:10:00Z")


def test_changes_switch_between_cron_and_interval() -> None:
    spec = ScheduleSpec(name="s", task="t", cron="@daily")
    assert spec.changed({"interval_sec": 30.0}).cron is None
    assert spec.changed({"interval_sec": 30.0}).changed({"cron": "@hourly"}).interval_sec is None
    assert spec.retimed(spec.changed({"timezone": "Asia/Tokyo"}))
    assert not spec.retimed(spec.changed({"payload": {"a": 1}}))
    with pytest.raises(InvalidSchedule):
        spec.changed({"cron": None})


def test_code_declares_schedules_by_task_and_by_module_attribute() -> None:
    module = types.ModuleType("declared")

    @task("beat", every=timedelta(seconds=30))
    def beat(payload: dict[str, object]) -> None: ...

    @task("plain")
    def plain(payload: dict[str, object]) -> None: ...

    module.beat = beat  # type: ignore[attr-defined]
    module.plain = plain  # type: ignore[attr-defined]
    module.nightly = schedule(  # type: ignore[attr-defined]
        "nightly", "plain", cron="0 2 * * *", payload={"v": 1}, timezone="Europe/Berlin")
    registry = TaskRegistry()
    registry.include(module)
    by_name = {spec.name: spec for spec in registry.schedules()}
    assert sorted(by_name) == ["beat", "nightly"]
    assert by_name["beat"].interval_sec == 30 and by_name["beat"].task == "beat"
    assert by_name["nightly"].payload == {"v": 1}
    with pytest.raises(InvalidSchedule):
        schedule("bad", "plain", cron="every day")
    with pytest.raises(InvalidSchedule):
        task("t", cron="@sometimes")(plain.fn)
