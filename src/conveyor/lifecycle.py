"""The job lifecycle, stated once: statuses, events, the transition each event records, and
the counters each transition moves.

Everything else follows this table: both schemas' CHECK constraints and the status and event
literals in their SQL are tested against it (`tests/unit/test_lifecycle.py`), the dashboard's
types are generated from it (`python -m conveyor.lifecycle > dashboard/src/generated/
lifecycle.ts`, checked for staleness by the same tests), and the drivers move the per-status
counters by `Transition.source` and `Transition.target`. To add a status or an event, add it
here and let the failing tests walk you through the SQL, the drivers and the dashboard.
"""

from __future__ import annotations

import collections
import enum
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # in the dead-letter queue (DLQ)
    CANCELLED = "cancelled"  # stopped on request; never runs again


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})
"""A job in one of these never runs again; retrying (a failed or cancelled job) creates a new
job."""


class EventType(enum.StrEnum):
    """A row in `job_events`: one per state change, written in the same transaction."""

    CREATED = "job_created"
    LEASED = "job_leased"
    SUCCEEDED = "job_succeeded"
    RETRY_SCHEDULED = "job_retry_scheduled"
    FAILED = "job_failed"  # moved to the DLQ
    LEASE_EXPIRED = "job_lease_expired"
    RELEASED = "job_released"  # handed back by a stopping worker, attempt refunded
    RETRIED = "job_retried"  # a failed or cancelled job was retried as a new job
    CANCEL_REQUESTED = "job_cancel_requested"  # a running job was asked to stop
    CANCELLED = "job_cancelled"
    PROGRESS = "job_progress"  # the handler reported progress (data.progress, data.message)


class Counter(enum.StrEnum):
    """Cumulative counters: they only grow, whatever is later deleted."""

    JOBS_SUBMITTED = "jobs_submitted"
    RETRIES = "retries"


def status_counter(status: JobStatus) -> str:
    """The counter of jobs in `status` (`status:pending`…): moved by every transition into
    and out of it, never by deleting history, so for `done` and `failed` it counts every job
    that reached the status."""
    return f"status:{status.value}"


def pruned_counter(status: JobStatus) -> str:
    """The counter of jobs in `status` that retention deleted (`pruned:done`…): it only
    grows. `status_counter(status)` minus it is how many such jobs are stored now."""
    return f"pruned:{status.value}"


@dataclass(frozen=True, slots=True)
class Transition:
    """What one event records: the job moved from one of `sources` to `target` (None as a
    source: the job did not exist before; None as the target: it keeps the status it had),
    by the verb `action`, and bumped `counters`."""

    event: EventType
    action: str
    sources: tuple[JobStatus | None, ...]
    target: JobStatus | None
    counters: tuple[Counter, ...] = ()

    def after(self, source: JobStatus | None) -> JobStatus:
        """The status a job has after this event, coming from `source`."""
        if self.target is not None:
            return self.target
        assert source is not None, f"{self.event.value} keeps a status, so it needs one"
        return source



S = JobStatus
TRANSITIONS: tuple[Transition, ...] = (
    Transition(EventType.CREATED, "submit", (None,), S.PENDING, (Counter.JOBS_SUBMITTED,)),
    Transition(EventType.LEASED, "lease", (S.PENDING,), S.RUNNING),
    Transition(EventType.SUCCEEDED, "ack", (S.RUNNING,), S.DONE),
    Transition(EventType.RETRY_SCHEDULED, "fail", (S.RUNNING,), S.PENDING, (Counter.RETRIES,)),
    Transition(EventType.FAILED, "fail", (S.RUNNING,), S.FAILED),
    Transition(EventType.LEASE_EXPIRED, "rescue", (S.RUNNING,), S.PENDING, (Counter.RETRIES,)),
    Transition(EventType.RELEASED, "release", (S.RUNNING,), S.PENDING),
    Transition(EventType.RETRIED, "retry", (S.FAILED, S.CANCELLED), None),
    Transition(EventType.CANCEL_REQUESTED, "cancel", (S.RUNNING,), S.RUNNING),
    Transition(EventType.CANCELLED, "cancel", (S.PENDING, S.RUNNING), S.CANCELLED),
    Transition(EventType.PROGRESS, "progress", (S.RUNNING,), S.RUNNING),
)
"""Every event type exactly once. `job_failed` is also written by rescue (a lease expired
with no attempts left): the same transition, running → failed. `job_cancelled` from
`pending` is written by the cancel itself; from `running` by whoever ends the attempt of a job
whose cancellation was requested (the worker, rescue, or a stopping worker's release)."""

BY_EVENT: dict[EventType, Transition] = {t.event: t for t in TRANSITIONS}


def counter_deltas(events: Iterable[tuple[EventType, JobStatus | None]]) -> dict[str, int]:
    """The counter changes for a batch of transitions, each given as (event, source status).

    Both drivers write exactly these in the transaction that writes the events."""
    deltas: dict[str, int] = {}
    for (event, source), n in collections.Counter(events).items():  # a batch repeats pairs
        t = BY_EVENT[event]
        if source not in t.sources:
            raise ValueError(f"{event.value} does not start from {source}")
        target = t.after(source)
        if source != target:
            if source is not None:
                deltas[status_counter(source)] = deltas.get(status_counter(source), 0) - n
            deltas[status_counter(target)] = deltas.get(status_counter(target), 0) + n
        for counter in t.counters:
            deltas[counter.value] = deltas.get(counter.value, 0) + n
    return {name: delta for name, delta in sorted(deltas.items()) if delta}


def typescript() -> str:
    """The dashboard's `src/generated/lifecycle.ts`."""
    statuses = ", ".join(f'"{s.value}"' for s in JobStatus)
    terminal = ", ".join(f'"{s.value}"' for s in JobStatus if s in TERMINAL_STATUSES)
    events = "".join(f'  "{e.value}",\n' for e in EventType)
    targets = "".join(f'  {t.event.value}: "{t.target.value}",\n'
                      for t in TRANSITIONS if t.target is not None)
    actions = "".join(f'  {t.event.value}: "{t.action}",\n' for t in TRANSITIONS)
    sources = "".join(f"  {t.event.value}: {json.dumps([s and s.value for s in t.sources])},\n"
                      for t in TRANSITIONS)
    return (
        "// Generated from src/conveyor/lifecycle.py by `python -m conveyor.lifecycle`.\n"
        "// Do not edit: change the lifecycle table and regenerate (a test fails when stale).\n"
        "\n"
        f"export const JOB_STATUSES = [{statuses}] as const;\n"
        "export type JobStatus = (typeof JOB_STATUSES)[number];\n"
        "\n"
        f"export const TERMINAL_STATUSES = [{terminal}] as const;\n"
        "\n"
        f"export const EVENT_TYPES = [\n{events}] as const;\n"
        "export type EventType = (typeof EVENT_TYPES)[number];\n"
        "\n"
        "/** The status a job has after each event (absent: the job keeps its status). */\n"
        "export const EVENT_TARGET: Partial<Record<EventType, JobStatus>> = "
        f"{{\n{targets}}};\n"
        "\n"
        "/** The lifecycle verb that writes each event. */\n"
        f"export const EVENT_ACTION: Record<EventType, string> = {{\n{actions}}};\n"
        "\n"
        "/** The statuses a job may have before each event (null: it did not exist). */\n"
        "export const EVENT_SOURCES: Record<EventType, readonly (JobStatus | null)[]> = "
        f"{{\n{sources}}};\n"
    )


if __name__ == "__main__":
    sys.stdout.write(typescript())
