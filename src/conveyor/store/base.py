"""The `Store` protocol: everything conveyor persists, as domain operations.

Each method is one transaction that also writes its `job_events` rows, so the event log
never disagrees with the jobs table. The API and the worker import this protocol, never a
driver. Timestamps that decide leases and retries come from the store's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from conveyor.models import (
    Counts,
    Job,
    JobEvent,
    JobId,
    JobStatus,
    Lease,
    NewJob,
    Outcome,
    Page,
    Progress,
    RateLimit,
    Started,
    SubmitResult,
)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: Sequence[str]
    concurrency: int
    started_at: datetime | None = None
    last_seen_at: datetime | None = None
    running: int = 0


class Held(frozenset[JobId]):
    """What `heartbeat` answers: the ids still held (a frozenset, so it compares with sets),
    and in `cancelling` those of them whose cancellation was requested."""

    cancelling: frozenset[JobId]

    def __new__(cls, held: Iterable[JobId] = (), cancelling: Iterable[JobId] = ()) -> Held:
        self = super().__new__(cls, held)
        self.cancelling = frozenset(cancelling) & self
        return self


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue as an operator sees it: whether it is paused, and its jobs now."""

    name: str
    paused: bool
    paused_at: datetime | None
    pending: int
    """Runnable now (pending, `run_at` reached)."""
    scheduled: int
    """Pending with a `run_at` still ahead (scheduled, or waiting for a retry's backoff)."""
    running: int
    oldest_pending_age_sec: float | None
    """How long the oldest runnable pending job has been waiting."""
    done_last_minute: int
    failed_last_minute: int


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    minute: datetime
    done: int
    failed: int


class Store(Protocol):
    """Everything conveyor persists. Each call is one transaction, events included."""

    supports_notify: ClassVar[bool]
    """True: `wait_for_change` is pushed by the database (LISTEN/NOTIFY); False: it polls."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""

    # -- producers -------------------------------------------------------------------------
    async def submit(self, job: NewJob, rate: RateLimit | None = None) -> SubmitResult:
        """Create a job, or return the existing one for a repeated (tenant, idempotency key).

        Raises `IdempotencyConflict` when the key was used with another `request_hash`, and
        `RateLimited` when the tenant's bucket is empty; replays never spend a token.
        """

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        """`submit` for many jobs in one transaction: all are created or none."""

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        """Create a new pending job from a failed one; link both ways. Returns the new job.

        Raises `JobNotFound`, or `InvalidTransition` when the job is not failed or
        cancelled, or was already retried.
        """

    async def cancel(self, job_id: JobId) -> Job:
        """Cancel a job. A pending one (also one scheduled for later, waiting for a retry or
        reserved by a worker) becomes `cancelled` at once (`job_cancelled`). A running one is
        asked to stop: `cancel_requested_at` is set (`job_cancel_requested`, and the worker
        holding it is told, see `on_cancel`), and whoever ends its attempt ends it
        `cancelled` unless the handler had already succeeded or failed for good. Asking again
        changes nothing. Returns the job as it is now.

        Raises `JobNotFound`, or `InvalidTransition` when the job is done, failed or
        cancelled already.
        """

    # -- readers ---------------------------------------------------------------------------
    async def get(self, job_id: JobId) -> Job:
        """Raises `JobNotFound`."""

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        tenant: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        """Newest first."""

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        """The job's history, oldest first."""

    async def counts(self) -> Counts: ...

    async def throughput(self, minutes: int) -> list[ThroughputBucket]:
        """Jobs that ended done or failed in each of the last `minutes` minutes, oldest first;
        minutes with neither are left out."""

    async def events_after(self, seq: int, limit: int = 1000) -> list[JobEvent]:
        """Events with a sequence number above `seq`, in order."""

    async def last_event_seq(self) -> int: ...

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        """Return the newest event seq once it is above `since_seq`, or after `timeout`."""

    # -- queues ----------------------------------------------------------------------------
    async def pause_queue(self, name: str) -> QueueInfo:
        """Stop every worker from leasing (or reserving) the queue's jobs: their next lease
        skips it. Jobs already running, or reserved by a worker, go on; pending ones wait.
        Pausing a paused queue changes nothing."""

    async def resume_queue(self, name: str) -> QueueInfo:
        """Let workers lease the queue's jobs again (idle ones find them by their next poll
        or wake-up)."""

    async def list_queues(self) -> list[QueueInfo]:
        """Every queue with live jobs, jobs finished in the last minute, or a pause state,
        by name."""

    # -- workers ---------------------------------------------------------------------------
    async def lease(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        """Claim up to `limit` runnable jobs in one statement: highest priority, then oldest.

        Each claim spends an attempt and carries a fresh token.
        """

    async def reserve(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        """Hold up to `limit` runnable jobs ahead of a free slot (prefetch), in the order
        `lease` would take them. They stay `pending`, with no event and no attempt spent, but
        carry this worker's token: no other worker takes them while `heartbeat` renews it.
        Each lease's `attempt` is the one `start` will record."""

    async def start(self, started: Sequence[Started], lease_for_sec: float) -> set[JobId]:
        """Reserved jobs whose handlers have begun become `running` (their `job_leased`, an
        attempt spent); returns the ids started (the rest had lost their reservation)."""

    async def heartbeat(self, leases: Sequence[Lease], lease_for_sec: float) -> Held:
        """Extend these leases and reservations; returns the ids still held (the rest were
        lost), and among them the running jobs whose cancellation was requested."""

    async def progress(self, reports: Sequence[Progress]) -> set[JobId]:
        """Record running handlers' progress (`job_progress`), fenced by each lease's token;
        returns the ids recorded. Callers throttle: this is one write per call."""

    async def next_due(self, queues: Sequence[str]) -> float | None:
        """Seconds until the earliest free pending job of `queues` may run (zero or less:
        one may run now); None when there is none. An idle worker sleeps until then."""

    def on_cancel(self, callback: Callable[[JobId], None]) -> None:
        """Call `callback(job_id)` in this process soon after any running job's cancellation
        is requested, where the database can push it (PostgreSQL: by NOTIFY); elsewhere it
        is never called and `heartbeat` tells."""

    async def finish(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        started: Sequence[Started] = (),
        lease_for_sec: float = 0.0,
    ) -> list[bool]:
        """Record acks and failures in one transaction, fenced by each lease's token; the
        `started` reservations are started first, in the same transaction (see `start`).

        A failure is retried (status pending, run_at = now + retry_in_sec) while attempts
        <= max_retries and it is not permanent; otherwise the job goes to the DLQ. A job
        whose cancellation was requested is not retried: a retryable failure (and any
        failure marked `cancelled`) ends it `cancelled`. Returns, per outcome, whether it was
        applied (False: the lease had been lost).
        """

    async def release(self, leases: Sequence[Lease]) -> None:
        """Hand running jobs back to pending and refund the attempt (graceful shutdown), or
        end them `cancelled` when that was requested; reserved ones are simply free again."""

    async def rescue(self) -> list[JobId]:
        """Requeue (or dead-letter, when attempts are spent, or cancel, when that was
        requested) jobs whose lease expired, and free expired reservations (those are not
        returned: no attempt was spent)."""

    async def register_worker(self, info: WorkerInfo) -> None: ...

    async def worker_seen(self, worker_id: str, running: int) -> None: ...

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def list_workers(self, seen_within_sec: float) -> list[WorkerInfo]: ...

