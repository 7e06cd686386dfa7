"""`conveyor schedules list | enable NAME | disable NAME`, over the API (`GET /schedules`,
`PATCH /schedules/{name}` with `{"enabled": …}`). `--json` prints a list of schedules, as
`conveyor queues` prints queues."""

from __future__ import annotations

import click

from conveyor.cli.remote import api_options, client, moment, print_json, print_table
from conveyor.wire import ScheduleOut


def _when(schedule: ScheduleOut) -> str:
    if schedule.cron is not None:
        return schedule.cron
    return f"every {schedule.interval_sec:g} s"


def _print_schedules(schedules: list[ScheduleOut], as_json: bool) -> None:
    if as_json:
        print_json(schedules)
        return
    print_table(("name", "task", "when", "timezone", "state", "next run", "last run", "source"),
                [(s.name, s.task, _when(s), s.timezone, "enabled" if s.enabled else "disabled",
                  moment(s.next_run_at), moment(s.last_run_at), s.source) for s in schedules])


@click.group()
def schedules() -> None:
    """List, enable and disable schedules (over the API)."""


@schedules.command("list")
@api_options
def schedules_list(url: str, api_key: str | None, as_json: bool) -> None:
    """Every schedule, by name: when it fires, and its next and last run."""
    with client(url, api_key) as api:
        _print_schedules(api.schedules(), as_json)


@schedules.command("enable")
@click.argument("name")
@api_options
def schedules_enable(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Let NAME fire again, from its next tick."""
    with client(url, api_key) as api:
        _print_schedules([api.enable_schedule(name)], as_json)


@schedules.command("disable")
@click.argument("name")
@api_options
def schedules_disable(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Stop NAME from firing (its definition is kept)."""
    with client(url, api_key) as api:
        _print_schedules([api.disable_schedule(name)], as_json)
