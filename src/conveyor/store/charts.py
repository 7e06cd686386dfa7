"""The chart samples' rules, for both drivers: which minute a sample is of, what it counts,
and how its percentiles are computed. Written once here, without I/O, so the two stores'
charts cannot disagree (`tests/store/test_charts.py` runs the same cases on both).

A sample describes one minute (keyed by its start) and is written once that minute has
ended (`Store.sample_stats`, called by every worker, `worker/sampler.py`):

- queue depth: the live jobs per tenant and queue when the sample is taken (just after the
  minute's end), like `list_queues` counts them: runnable pending, running, the oldest
  runnable job's age;
- latency: wait (started - runnable) and run (finished - started) percentiles of the jobs
  that ended done or failed in the minute, per tenant and for every tenant together;
- failures: failed attempts per tenant and task, from the events after the last one a
  sample read (by seq, so each event is counted once), by the minute of the event.

Times here are epoch seconds (PostgreSQL's driver converts its datetimes at the edge).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conveyor.lifecycle import EventType, JobStatus
from conveyor.store.rules import WAIT_DECIMALS

MINUTE_SEC = 60
MAX_MINUTES = 1440
"""The longest window a chart reads: a day of minutes."""

PERCENTILES = (0.5, 0.95, 0.99)
"""The fractions behind `wait_p50…p99` and `run_p50…p99`, in that order."""

FAILURE_EVENTS: tuple[EventType, ...] = (
    EventType.RETRY_SCHEDULED, EventType.FAILED, EventType.LEASE_EXPIRED)
"""A failed attempt: one that will be retried (after a handler's failure, or a lease that
expired with the worker gone) or that sent its job to the DLQ."""

LATENCY_STATUSES: tuple[JobStatus, ...] = (JobStatus.DONE, JobStatus.FAILED)
"""Jobs whose last attempt ran to an end. Cancelled ones are left out: a job cancelled while
waiting for a retry keeps the `started_at` of an earlier attempt."""

EVENT_BATCH = 500_000
"""The most events one sample reads (after an outage of every worker, say): the rest are
read by the next samples, and still counted in the minute they happened."""


def window_minutes(minutes: int) -> int:
    """A chart's window, within 1..MAX_MINUTES."""
    return max(1, min(MAX_MINUTES, int(minutes)))


def minute_start(at: float) -> float:
    """The start of the minute `at` falls in."""
    return math.floor(at / MINUTE_SEC) * MINUTE_SEC


def sampled_minute(now: float, asked: float | None = None) -> float:
    """The minute a sample taken at `now` is of: the last one that has ended, or `asked`
    (its minute), which must have ended (ValueError otherwise)."""
    last = minute_start(now) - MINUTE_SEC
    if asked is None:
        return last
    chosen = minute_start(asked)
    if chosen > last:
        raise ValueError("only a minute that has ended can be sampled")
    return chosen


def window_start(now: float, minutes: int) -> float:
    """The first minute of a chart of the last `minutes` minutes that have ended."""
    return minute_start(now) - window_minutes(minutes) * MINUTE_SEC


def window_start_sql(minutes: str) -> str:
    """`window_start` on PostgreSQL, over `now()` and the SQL expression `minutes` (already
    within 1..MAX_MINUTES)."""
    return f"date_trunc('minute', now()) - make_interval(mins => {minutes})"


def kept_since(now: float, keep_days: float) -> float:
    """Samples of minutes before this are deleted (STATS_KEEP_DAYS)."""
    return minute_start(now - keep_days * 86_400.0)


def age(now: float, since: float) -> float:
    """How long ago `since` was (never negative: a job runnable from a moment ahead)."""
    return seconds(max(0.0, now - since))


def events_upto(after: int, newest: int) -> int:
    """The last event seq a sample reads, given the last one read and the newest stored."""
    return max(after, min(newest, after + EVENT_BATCH))


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """PostgreSQL's `percentile_cont` over sorted values: linear interpolation between the
    two values around position `fraction * (n - 1)`, so both drivers give the same answer."""
    if not ordered:
        raise ValueError("no values")
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def seconds(value: float) -> float:
    """A duration as charts keep it: rounded to microseconds."""
    return round(float(value), WAIT_DECIMALS)


@dataclass(frozen=True, slots=True)
class Latency:
    """One minute's latency figures for one tenant (or every tenant: `tenant` None)."""

    tenant: str | None
    jobs: int
    wait: tuple[float, ...]
    """At each of `PERCENTILES`, seconds."""
    run: tuple[float, ...]


def latency(tenant: str | None, waits: Iterable[float], runs: Iterable[float]) -> Latency:
    """The figures of a minute's jobs, from their waits and run times (one each per job)."""
    wait = sorted(max(0.0, float(w)) for w in waits)
    run = sorted(max(0.0, float(r)) for r in runs)
    return Latency(tenant, len(wait), tuple(seconds(percentile(wait, f)) for f in PERCENTILES),
                   tuple(seconds(percentile(run, f)) for f in PERCENTILES))


def latencies(rows: Iterable[tuple[str, float, float]]) -> list[Latency]:
    """Per tenant and for every tenant together (first), from `(tenant, wait, run)` per job
    (the SQLite driver's way; PostgreSQL computes the same with `percentile_cont`)."""
    by_tenant: dict[str, list[tuple[float, float]]] = {}
    for tenant, wait, run in rows:
        by_tenant.setdefault(tenant, []).append((wait, run))
    if not by_tenant:
        return []
    every = [pair for pairs in by_tenant.values() for pair in pairs]
    found = [latency(None, (w for w, _ in every), (r for _, r in every))]
    for tenant in sorted(by_tenant):
        pairs = by_tenant[tenant]
        found.append(latency(tenant, (w for w, _ in pairs), (r for _, r in pairs)))
    return found


@dataclass(frozen=True, slots=True)
class Depth:
    """One tenant's jobs in one queue, as a sample records them."""

    tenant: str
    queue: str
    pending: int
    running: int
    oldest_pending_age_sec: float | None


def depths(live: Iterable[Depth], previous: Iterable[Depth]) -> list[Depth]:
    """The rows of a sample: every (tenant, queue) with live jobs, and a zero row for each
    one the previous sample had jobs in but that has none now, so a chart drops to zero
    instead of stopping at its last figure. A queue stays out while it has none."""
    rows = {(d.tenant, d.queue): d for d in live}
    for before in previous:
        key = (before.tenant, before.queue)
        if key not in rows and (before.pending or before.running):
            rows[key] = Depth(before.tenant, before.queue, 0, 0, None)
    return [rows[key] for key in sorted(rows)]
