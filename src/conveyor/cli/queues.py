"""`conveyor queues list | pause NAME | resume NAME`, over the API."""

from __future__ import annotations

import click

from conveyor.cli.remote import api_options, client, print_json, print_table
from conveyor.wire import QueueOut


def _print_queues(queues: list[QueueOut], as_json: bool) -> None:
    if as_json:
        print_json(queues)
        return
    print_table(
        ("queue", "state", "pending", "scheduled", "running", "oldest", "done/min",
         "failed/min"),
        [(q.name, "paused" if q.paused else "running", q.pending, q.scheduled, q.running,
          "-" if q.oldest_pending_age_sec is None else f"{q.oldest_pending_age_sec:.0f} s",
          q.done_last_minute, q.failed_last_minute) for q in queues])


@click.group()
def queues() -> None:
    """List, pause and resume queues (over the API)."""


@queues.command("list")
@api_options
def queues_list(url: str, api_key: str | None, as_json: bool) -> None:
    """Every queue: its pending, scheduled and running jobs, and whether it is paused."""
    with client(url, api_key) as api:
        _print_queues(api.queues(), as_json)


@queues.command("pause")
@click.argument("name")
@api_options
def queues_pause(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Stop every worker from starting NAME's jobs (running ones finish)."""
    with client(url, api_key) as api:
        _print_queues([api.pause_queue(name)], as_json)


@queues.command("resume")
@click.argument("name")
@api_options
def queues_resume(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Let workers start NAME's jobs again."""
    with client(url, api_key) as api:
        _print_queues([api.resume_queue(name)], as_json)
