"""The store's rule book: every decision both drivers make, written once, without I/O.

Each driver calls these rules from Python. Where a rule must also run inside a SQL statement
(deciding a whole batch in one round trip), the SQL fragment is made here from the same
definition (`last_attempt_sql`, `rescue_error_sql`), and `tests/store/test_rules.py` checks
that the SQL and the Python rule agree on both sides of every edge, on both drivers.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conveyor.errors import (
    IdempotencyConflict,
    InvalidPayload,
    InvalidSubmission,
    InvalidTransition,
    RateLimited,
    StoreUnavailable,
)
from conveyor.lifecycle import JobStatus
from conveyor.models import MAX_UNIQUE_KEY, Counts, Job, JobId, NewJob, RateLimit, SubmitResult
from conveyor.payloads import check_json, find_problem

# -- submitting ---------------------------------------------------------------------------------


def check_new_jobs(jobs: Sequence[NewJob]) -> None:
    """Every payload within `conveyor.payloads`' limits (raises `InvalidPayload`), every
    unique key one the stores can index (`InvalidSubmission`)."""
    for job in jobs:
        check_json(dict(job.payload))  # any Mapping: the drivers store `dict(payload)`
        if job.unique_key is not None:
            check_unique_key(job.unique_key, job.unique_while)


def check_unique_key(key: str, holds: str = "pending") -> None:
    """A unique key every store can index: 1 to MAX_UNIQUE_KEY characters, no NUL, no lone
    surrogates, held while `pending` or `active`; `InvalidSubmission` otherwise."""
    if not 1 <= len(key) <= MAX_UNIQUE_KEY:
        raise InvalidSubmission(f"`unique_key` must have 1 to {MAX_UNIQUE_KEY} characters")
    problem = find_problem(key)
    if problem is not None:
        raise InvalidSubmission(f"unique_key{problem}")
    if holds not in UNIQUE_WHILE:
        raise InvalidSubmission("`unique_while` must be `pending` or `active`")


UNIQUE_WHILE = ("pending", "active")


def unique_holds(status: str, unique_while: str | None) -> bool:
    """Whether a job in `status` still holds its unique key: pending, or running when held
    while `active`. The migrations' `jobs_unique_release` trigger is this rule in SQL (it
    clears the guard of a job that leaves these states); `tests/store/test_unique.py`
    holds the two to the same answers."""
    return status == JobStatus.PENDING.value or (
        status == JobStatus.RUNNING.value and unique_while == "active")


CAP_HOLDERS = frozenset({JobStatus.RUNNING, JobStatus.PENDING})
"""Where a job that ends came from when it may have held room under its tenant's
`max_running`: running, or pending and reserved. Either driver wakes the workers when one of
a capped tenant ends (a pending one that held nothing wakes them for nothing)."""


def keyless(jobs: Sequence[NewJob]) -> bool:
    """Whether no job of a batch carries an idempotency or unique key: then none of them can
    meet a stored job, and the batch is inserted without reading anything back."""
    return all(job.idempotency_key is None and job.unique_key is None for job in jobs)


def run_at(job: NewJob, now: datetime) -> datetime:
    """When a new job first becomes runnable: after its delay, or at its `run_at`; a given
    time in the past runs now (it does not jump ahead of jobs already waiting)."""
    if job.run_at is None:
        return now + timedelta(seconds=max(0.0, job.delay_sec))
    return max(now, job.run_at.astimezone(now.tzinfo))  # in `now`'s zone, as read back


def created_job(job_id: JobId, job: NewJob, payload: Any, created_at: datetime,
                run_at: datetime) -> Job:
    """The job that inserting `job` stores, as reading its row back would give it, from the
    values the driver wrote (`payload` decoded as the driver's column gives it back, times
    as its reads give them): a batch that cannot conflict (`keyless`) is built here instead
    of read back, which spares a big batch's client most of its cost."""
    return Job(
        id=job_id, tenant=job.tenant, queue=job.queue, task=job.task,
        payload=payload, status=JobStatus.PENDING, priority=int(job.priority),
        attempts=0, max_retries=int(job.max_retries), run_at=run_at, created_at=created_at,
        idempotency_key=job.idempotency_key, trace_id=job.trace_id,
        timeout_sec=None if job.timeout_sec is None else float(job.timeout_sec),
        unique_key=job.unique_key,
        unique_while=None if job.unique_key is None else job.unique_while,
    )


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Which jobs of a batch to insert, and which repeat an earlier one of the same batch."""

    fresh: list[int]
    """Indexes of the jobs to insert (or to find as replays of an earlier submit)."""
    repeats: dict[int, int]
    """index → the index of the first job in the batch with the same (tenant, key)."""


def plan_batch(jobs: Sequence[NewJob]) -> BatchPlan:
    """The same idempotency key twice in one batch: the first one wins, and a second with
    another body is a conflict (as two separate submits would be)."""
    plan = plan_group(jobs)
    for index, first in plan.repeats.items():
        check_replay(jobs[first].request_hash, jobs[index])
    return plan


def plan_group(jobs: Sequence[NewJob]) -> BatchPlan:
    """`plan_batch` for a group commit, where each job is a submit of its own: a repeated
    key is settled per job, by `settle_repeats`, once the first one's fate is known."""
    first_by_key: dict[tuple[str, str], int] = {}
    fresh: list[int] = []
    repeats: dict[int, int] = {}
    for index, job in enumerate(jobs):
        if job.idempotency_key is not None:
            key = (job.tenant, job.idempotency_key)
            first = first_by_key.get(key)
            if first is not None:
                repeats[index] = first
                continue
            first_by_key[key] = index
        fresh.append(index)
    return BatchPlan(fresh, repeats)


SubmitOutcome = SubmitResult | IdempotencyConflict | RateLimited | StoreUnavailable
"""What one submit of a group commit comes to: its result, or the refusal it would have got
alone (the store raises it to that submit's caller only). `StoreUnavailable`: the job that
held its unique key kept changing under it (PostgreSQL's bounded re-tries ran out)."""


def settle_repeats(
    jobs: Sequence[NewJob], plan: BatchPlan, outcomes: dict[int, SubmitOutcome]
) -> list[SubmitOutcome]:
    """Every job's outcome in order, given those of `plan.fresh`: a repeat of a key is a
    replay of the first job with it (a conflict if its body differs), or is refused like it,
    just as the second of two submits in a row would be."""
    for index, first in plan.repeats.items():
        earlier = outcomes[first]
        if not isinstance(earlier, SubmitResult):
            outcomes[index] = earlier
        elif jobs[first].request_hash != jobs[index].request_hash:
            outcomes[index] = IdempotencyConflict()
        else:
            outcomes[index] = SubmitResult(earlier.job, created=False)
    return [outcomes[index] for index in range(len(jobs))]


def check_replay(stored_hash: str | None, job: NewJob) -> None:
    """A submit that found its (tenant, key) taken is a replay only with the same body."""
    if stored_hash != job.request_hash:
        raise IdempotencyConflict()


def wanted_tokens(jobs: Sequence[NewJob]) -> dict[str, int]:
    """Tokens each tenant needs for `jobs` (the ones that will be created)."""
    return dict(collections.Counter(job.tenant for job in jobs))


# -- rate limits --------------------------------------------------------------------------------


def bucket_now(rate: RateLimit, tokens: float | None, elapsed_sec: float) -> float:
    """Tokens in a bucket that held `tokens` (None: never used, so full) `elapsed_sec` ago:
    refilled continuously at `per_minute / 60` a second, never above `per_minute`."""
    capacity = float(rate.per_minute)
    if tokens is None:
        return capacity
    return min(capacity, tokens + max(0.0, elapsed_sec) * capacity / 60.0)


def rate_limited(rate: RateLimit, tenant: str, available: float, wanted: int) -> RateLimited | None:
    """The refusal for taking `wanted` tokens from a bucket holding `available`, or None when
    they may be taken. Retry-After is when the bucket will hold enough; a request larger than
    the bucket can ever hold gets 60 s (the API refuses such batches up front with 422)."""
    return None if wanted <= available else refusal(rate, tenant, available, wanted)


def refusal(rate: RateLimit, tenant: str, available: float, wanted: int) -> RateLimited:
    """The 429 for a refused take (see `rate_limited`)."""
    capacity = float(rate.per_minute)
    retry_after = max(0.0, wanted - available) * 60.0 / capacity if wanted <= capacity else 60.0
    return RateLimited(
        retry_after, f"tenant {tenant!r} may submit {rate.per_minute} jobs per minute"
    )


# -- retrying from the DLQ ----------------------------------------------------------------------


RETRYABLE_STATUSES = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)


def check_retryable(status: str, retried_by: object | None, payload: object) -> None:
    """Only a failed or cancelled job that was not retried before, with a payload within the
    limits (a row stored before them may not be); each case has its own error."""
    if status not in RETRYABLE_STATUSES:
        raise InvalidTransition(
            f"only failed or cancelled jobs can be retried; this one is {status}")
    if retried_by is not None:
        raise InvalidTransition(f"this job was already retried as {retried_by}")
    check_json(payload, "the stored payload")


REDRIVE_BATCH = 500
"""Most jobs one redrive transaction copies: a large DLQ is redriven in many short
transactions, so submits and workers are never kept waiting on the writer for long."""


def redrive_refusal(status: str, retried_by: object | None, payload: object) -> str | None:
    """Why `retry` would refuse this job (so a redrive skips it), or None. A redrive picks
    only failed jobs not retried yet, so in practice this is a stored payload beyond the
    limits; the reason is `retry`'s own error message."""
    try:
        check_retryable(status, retried_by, payload)
    except (InvalidTransition, InvalidPayload) as refused:
        return refused.message
    return None


def redrive_data(retried_by: str, described_filter: dict[str, object],
                 actor: str | None = None) -> dict[str, Any]:
    """`job_retried.data` of a job a redrive took: `retry`'s, plus which redrive it was and
    who asked for it."""
    data: dict[str, Any] = {"retried_by": retried_by, "redrive": True,
                            "filter": described_filter}
    if actor is not None:
        data["actor"] = actor
    return data


def bulk_cancel_data(described_filter: dict[str, object], actor: str | None) -> dict[str, Any]:
    """The event data of a job a bulk cancel took: which filter it was, and who asked."""
    data: dict[str, Any] = {"bulk": True, "filter": described_filter}
    if actor is not None:
        data["actor"] = actor
    return data


def redriven_created_data(retry_of: str) -> dict[str, Any]:
    """`job_created.data` of the new job a redrive made: `retry`'s, plus `redrive`."""
    return {"retry_of": retry_of, "redrive": True}


# -- cancelling ---------------------------------------------------------------------------------


def check_cancellable(status: str) -> None:
    """A pending job is cancelled at once and a running one on request; nothing else."""
    if status not in (JobStatus.PENDING.value, JobStatus.RUNNING.value):
        raise InvalidTransition(
            f"only pending or running jobs can be cancelled; this one is {status}")


CANCELLED_ERROR = "cancelled while running"
"""`last_error` of a job whose running attempt was stopped by its cancellation."""


# -- attempts -----------------------------------------------------------------------------------


def is_last_attempt(attempt: int, max_retries: int, permanent: bool = False) -> bool:
    """A failed attempt sends the job to the DLQ when it was permanent or when `attempt`
    (counting from 1) already used every retry: `max_retries` retries after the first."""
    return permanent or attempt > max_retries


def last_attempt_sql(attempts: str = "attempts", max_retries: str = "max_retries") -> str:
    """`is_last_attempt` for a row in SQL (without the permanent flag, which a statement ORs
    in itself); the same text works in SQLite and PostgreSQL."""
    return f"({attempts} > {max_retries})"


RESCUE_ERROR = "lease expired: worker {owner} stopped renewing it"


def rescue_error(owner: str | None) -> str:
    """`last_error` of a job whose lease expired (rescue)."""
    return RESCUE_ERROR.format(owner=owner)


def rescue_error_sql(owner: str) -> str:
    """`rescue_error` as a SQL expression over the column `owner` (both dialects)."""
    before, after = RESCUE_ERROR.split("{owner}")
    return f"'{before}' || coalesce({owner}, 'None') || '{after}'"


# -- what events record ---------------------------------------------------------------------------

WAIT_DECIMALS = 6
"""`job_leased.data.wait` and `data.runtime`: seconds, rounded to microseconds."""
RETRY_IN_DECIMALS = 3
"""`job_retry_scheduled.data.retry_in`: seconds, rounded to milliseconds."""
PROGRESS_DECIMALS = 4
"""`job_progress.data.progress` and the job's `progress`: a fraction, to 1/10,000."""
TRACEBACK_LIMIT = 16 * 1024
"""The most characters of a traceback a failed attempt's event keeps (`cap_traceback`)."""
PROGRESS_MESSAGE_LIMIT = 200
"""The most characters of a progress message kept."""


def cap_traceback(text: str) -> str:
    """A traceback within `TRACEBACK_LIMIT`: its end is kept (the innermost frames and the
    exception), with a first line saying how much of the beginning was cut."""
    if len(text) <= TRACEBACK_LIMIT:
        return text
    marker = "… {} characters cut …\n"
    keep = TRACEBACK_LIMIT - len(marker.format(len(text)))
    return marker.format(len(text) - keep) + text[-keep:]


def clean_progress(fraction: float, message: str | None) -> tuple[float, str | None]:
    """A progress report as stored: the fraction clamped to [0, 1] and rounded, the message
    cut to `PROGRESS_MESSAGE_LIMIT`."""
    value = min(1.0, max(0.0, float(fraction)))
    if value != value:  # NaN
        value = 0.0
    text = None if message is None else str(message)[:PROGRESS_MESSAGE_LIMIT]
    return round(value, PROGRESS_DECIMALS), text


# -- reading ------------------------------------------------------------------------------------


def list_total(counts: Counts, status: JobStatus | None) -> int:
    """The `total` of an unfiltered (all tenants) job list, from the per-status counters,
    without reading a million rows. The status counters still count the jobs retention
    deleted (they count jobs that reached the status), so what it removed (`counts.pruned`,
    kept by retention in its own counters) is taken off: the total is the rows stored."""
    if status is None:
        return sum(list_total(counts, each) for each in JobStatus)
    return int(getattr(counts, status.value)) - counts.pruned.get(status, 0)


def tenant_counts(rows: Iterable[tuple[str, int, int]]) -> Counts:
    """One tenant's figures from its rows grouped by status, `(status, jobs, retries)`: what
    a tenant's key sees on /metrics (the counters are kept for every tenant together)."""
    by_status = {status.value: 0 for status in JobStatus}
    submitted = retries = 0
    for status, jobs, retried in rows:
        by_status[status] = int(jobs)
        submitted += int(jobs)
        retries += int(retried)
    return Counts(**by_status, jobs_submitted=submitted, retries=retries, pruned={})
