"""`conveyor jobs list | show ID | retry ID | cancel ID`, over the API.

`--json` prints the API's answer as it is (`GET /jobs`: the page with its `total`; the
others: the job).
"""

from __future__ import annotations

import json
from uuid import UUID

import click

from conveyor.cli.remote import api_options, client, clip, moment, print_json, print_table
from conveyor.lifecycle import JobStatus
from conveyor.wire import JobOut

JOB_COLUMNS = ("id", "status", "task", "queue", "tenant", "attempts", "created", "last error")


def state(job: JobOut) -> str:
    """The status, and whether a running job was asked to stop."""
    if job.status is JobStatus.RUNNING and job.cancel_requested_at is not None:
        return "running (cancelling)"
    return job.status.value


def job_row(job: JobOut) -> tuple[object, ...]:
    return (job.id, state(job), job.task, job.queue, job.tenant,
            f"{job.attempts}/{job.max_retries + 1}", moment(job.created_at),
            clip(job.last_error))


def print_jobs(jobs: list[JobOut]) -> None:
    print_table(JOB_COLUMNS, [job_row(job) for job in jobs])


@click.group()
def jobs() -> None:
    """List, show, retry and cancel jobs (over the API)."""


@jobs.command("list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), default=None,
              help="Only jobs in this status.")
@click.option("--tenant", default=None, help="Only this tenant's jobs.")
@click.option("--queue", default=None, help="Only this queue's jobs.")
@click.option("--task", default=None, help="Only this task's jobs.")
@click.option("--trace-id", default=None, help="Only jobs of this trace id.")
@click.option("--error", default=None, help="Jobs whose last error contains this text.")
@click.option("--payload", default=None, help="Jobs whose payload's JSON contains this text.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", default=None, help="The page after this job id (the `next` a "
              "page prints).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@api_options
def jobs_list(status: str | None, tenant: str | None, queue: str | None, task: str | None,
              trace_id: str | None, error: str | None, payload: str | None, limit: int,
              cursor: str | None, offset: int, url: str, api_key: str | None,
              as_json: bool) -> None:
    """Jobs, newest first, narrowed by every filter given."""
    with client(url, api_key) as api:
        page = api.list(status, limit=limit, offset=offset, tenant=tenant, cursor=cursor,
                        queue=queue, task=task, trace_id=trace_id, error=error,
                        payload=payload)
    if as_json:
        print_json(page)
        return
    print_jobs(page.jobs)
    if not page.jobs:
        shown = "none"
    elif cursor is not None:  # a keyset page knows what it follows, not its position
        shown = f"{len(page.jobs)} after {cursor}"
    else:
        shown = f"{offset + 1}-{offset + len(page.jobs)}"
    total = f"{page.total}" if page.total_exact else f"at least {page.total}"
    more = f"; next page: --cursor {page.next_cursor}" if page.next_cursor else ""
    click.echo(f"({shown} of {total}{more})")


@jobs.command("show")
@click.argument("job_id", metavar="ID", type=click.UUID)
@click.option("--history", is_flag=True, help="Add the job's event timeline.")
@api_options
def jobs_show(job_id: UUID, history: bool, url: str, api_key: str | None,
              as_json: bool) -> None:
    """One job, every field; with --history, everything that happened to it."""
    with client(url, api_key) as api:
        job = api.get(job_id, history=history)
    if as_json:
        print_json(job)
        return
    fields: list[tuple[str, object]] = [
        ("id", job.id), ("status", state(job)), ("task", job.task), ("queue", job.queue),
        ("tenant", job.tenant), ("priority", job.priority),
        ("attempts", f"{job.attempts} of {job.max_retries + 1}"),
        ("created", moment(job.created_at)), ("run at", moment(job.run_at)),
        ("started", moment(job.started_at)), ("finished", moment(job.finished_at)),
        ("timeout", None if job.timeout_sec is None else f"{job.timeout_sec:g} s"),
        ("progress", None if job.progress is None else
         f"{job.progress:.0%} {job.progress_message or ''}".strip()),
        ("worker", job.lease_owner), ("last error", job.last_error),
        ("retry of", job.retry_of), ("retried by", job.retried_by),
        ("trace id", job.trace_id),
        ("payload", json.dumps(job.payload, ensure_ascii=False)),
        ("result", None if job.result is None else json.dumps(job.result, ensure_ascii=False)),
    ]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        click.echo(f"{name.ljust(width)}  {'-' if value is None else value}")
    if job.events is not None:
        click.echo("")
        print_table(("seq", "at", "event", "status", "attempt", "worker", "error / data"),
                    [(e.seq, moment(e.at), e.type, e.status.value, e.attempt, e.worker,
                      clip(e.error) or (json.dumps(e.data) if e.data else None))
                     for e in job.events])


@jobs.command("retry")
@click.argument("job_id", metavar="ID", type=click.UUID)
@api_options
def jobs_retry(job_id: UUID, url: str, api_key: str | None, as_json: bool) -> None:
    """Retry a failed or cancelled job as a new job (printed)."""
    with client(url, api_key) as api:
        new = api.retry(job_id)
    if as_json:
        print_json(new)
    else:
        print_jobs([new])


@jobs.command("cancel")
@click.argument("job_id", metavar="ID", type=click.UUID)
@api_options
def jobs_cancel(job_id: UUID, url: str, api_key: str | None, as_json: bool) -> None:
    """Cancel a pending job at once, or ask a running one to stop."""
    with client(url, api_key) as api:
        job = api.cancel(job_id)
    if as_json:
        print_json(job)
    else:
        print_jobs([job])
