"""`conveyor dlq list | redrive`, over the API.

`redrive` calls `POST /dlq/redrive` until nothing that matches is left, printing its
progress after each call; with `--rate` each call paces itself, and answers no sooner than
its next job's turn, so calling again at once keeps the rate. It stops early when a call
redrives nothing (what is left could not be copied: those jobs are listed, exit status 1)
or at `--limit`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from conveyor.cli.remote import (
    Moment,
    Rate,
    api_options,
    client,
    clip,
    moment,
    print_json,
    print_table,
)
from conveyor.wire import RedrivenOut, RedriveOut, RedriveSkippedOut

CALL_LIMIT = 1000
"""Jobs asked of one call: the API's default."""


@click.group()
def dlq() -> None:
    """The dead-letter queue: list it, redrive it by filter (over the API)."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@api_options
def dlq_list(limit: int, offset: int, url: str, api_key: str | None, as_json: bool) -> None:
    """Failed jobs, newest first, with the error that put them there."""
    with client(url, api_key) as api:
        page = api.dlq(limit=limit, offset=offset)
    if as_json:
        print_json(page)
        return
    print_table(("id", "task", "queue", "tenant", "attempts", "failed", "last error", "retried"),
                [(job.id, job.task, job.queue, job.tenant, job.attempts,
                  moment(job.finished_at), clip(job.last_error),
                  "yes" if job.retried_by else "no") for job in page.jobs])
    shown = f"{offset + 1}-{offset + len(page.jobs)}" if page.jobs else "none"
    click.echo(f"({shown} of {page.total})")


@dlq.command("redrive")
@click.option("--task", default=None, help="Only jobs of this task.")
@click.option("--queue", default=None, help="Only jobs of this queue.")
@click.option("--tenant", default=None, help="Only this tenant's jobs.")
@click.option("--error", default=None, metavar="TEXT",
              help="Only jobs whose last error contains TEXT (case-sensitive).")
@click.option("--since", type=Moment(), default=None,
              help="Only jobs that failed at or after this time (ISO 8601, local time "
                   "without an offset; or ago: 30m, 2h, 7d).")
@click.option("--until", type=Moment(), default=None,
              help="Only jobs that failed before this time.")
@click.option("--dry-run", is_flag=True, help="Only print how many jobs match.")
@click.option("--rate", type=Rate(), default=None,
              help="At most this many new jobs a second (10/s; or a minute: 120/m; at "
                   "least 0.1/s).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Redrive at most this many jobs in all (default: every match).")
@api_options
def dlq_redrive(task: str | None, queue: str | None, tenant: str | None, error: str | None,
                since: datetime | None, until: datetime | None, dry_run: bool,
                rate: float | None, limit: int | None, url: str, api_key: str | None,
                as_json: bool) -> None:
    """Retry every failed job (not retried yet) that matches, as `jobs retry` would, oldest
    first; each one's history records the redrive. With no filter: the whole DLQ."""
    filter: dict[str, Any] = {"task": task, "queue": queue, "tenant": tenant, "error": error,
                              "failed_after": since, "failed_before": until}
    with client(url, api_key) as api:
        if dry_run:
            counted = api.redrive(**filter, dry_run=True)
            if as_json:
                print_json(counted)
            else:
                click.echo(f"{counted.matched} failed job(s) match; nothing redriven "
                           "(dry run)")
            return
        matched: int | None = None
        as_of: datetime | None = None
        jobs: list[RedrivenOut] = []
        skipped: dict[object, RedriveSkippedOut] = {}
        while True:
            asked = CALL_LIMIT if limit is None else min(CALL_LIMIT, limit - len(jobs))
            answer = api.redrive(**filter, limit=asked, rate_per_sec=rate)
            if matched is None:  # from now on, only what had failed by the first call
                matched, as_of = answer.matched, answer.as_of
                if until is None or answer.as_of < until:
                    filter["failed_before"] = answer.as_of
            jobs += answer.jobs
            skipped.update({s.id: s for s in answer.skipped})
            click.echo(f"redriven {len(jobs)} of {len(jobs) + answer.remaining} "
                       f"({answer.remaining} remaining)", err=as_json)
            if (answer.remaining == 0 or answer.redriven == 0
                    or (limit is not None and len(jobs) >= limit)):
                break
    assert matched is not None and as_of is not None  # the loop made at least one call
    total = RedriveOut(matched=matched, redriven=len(jobs), dry_run=False,
                       remaining=answer.remaining, as_of=as_of, jobs=jobs,
                       skipped=list(skipped.values()))
    _report(total, as_json, stopped_at_limit=limit is not None and len(jobs) >= limit)


def _report(total: RedriveOut, as_json: bool, *, stopped_at_limit: bool) -> None:
    if as_json:
        print_json(total)
    elif total.skipped:
        click.echo("could not be redriven:")
        print_table(("id", "why"), [(s.id, s.reason) for s in total.skipped])
    elif total.remaining and stopped_at_limit:
        click.echo(f"stopped at --limit; {total.remaining} still match")
    if total.skipped and total.remaining:
        raise click.ClickException(
            f"{len(total.skipped)} matching job(s) could not be redriven and stay in the DLQ")
