"""The `Store` protocol: everything conveyor persists, as domain operations.

Each method is one transaction that also writes its `job_events` rows, so the event log
never disagrees with the jobs table. The API and the worker import this protocol, never a
driver. Timestamps that decide leases and retries come from the store's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol

from conveyor.keys import ApiKey
from conveyor.lifecycle import TERMINAL_STATUSES
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
from conveyor.schedules import Firing, Schedule, ScheduleSpec
from conveyor.store.search import JobFilter


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
class TenantSettings:
    """A tenant's overrides (docs/design.md, "Fair dispatch"); None is the default: weight 1,
    no cap on running jobs, the API's RATE_LIMIT_PER_MINUTE."""

    weight: int | None = None
    """Its share of the workers against other tenants with pending jobs in the same queues:
    a tenant of weight 2 gets about twice the jobs of a tenant of weight 1."""
    max_running: int | None = None
    """Most jobs of the tenant running (or reserved by a worker) at once, across workers."""
    rate_per_minute: int | None = None
    """Its submit rate limit instead of RATE_LIMIT_PER_MINUTE (0: no limit)."""


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant as an operator sees it: its settings and its live jobs."""

    name: str
    settings: TenantSettings
    pending: int
    """Pending jobs (runnable, scheduled or reserved by a worker)."""
    running: int


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    minute: datetime
    done: int
    failed: int


@dataclass(frozen=True, slots=True)
class RedriveFilter:
    """Which dead-letter jobs a redrive takes: failed jobs not retried yet, narrowed by every
    field given (None: any). Cancelled jobs are never taken (they are not in the DLQ; retry
    them one by one). `error` is a case-sensitive substring of `last_error` and `payload` of
    the payload's JSON text (the same on both drivers: no LIKE patterns, no collation);
    `failed_after` (inclusive) and `failed_before` (exclusive) bound `finished_at`, when the
    job failed; `ids` is a selection (only these jobs)."""

    task: str | None = None
    queue: str | None = None
    tenant: str | None = None
    error: str | None = None
    failed_after: datetime | None = None
    failed_before: datetime | None = None
    payload: str | None = None
    trace_id: str | None = None
    ids: frozenset[JobId] | None = None

    def jobs(self) -> JobFilter:
        """The same filter as a job search (the DLQ is the failed jobs; that they were not
        retried yet is the redrive's own test)."""
        return JobFilter(status=JobStatus.FAILED, task=self.task, queue=self.queue,
                         tenant=self.tenant, error=self.error, payload=self.payload,
                         trace_id=self.trace_id, finished_after=self.failed_after,
                         finished_before=self.failed_before, ids=self.ids)

    def describe(self) -> dict[str, object]:
        """The fields given, times in ISO 8601: what each redriven job's `job_retried` event
        records, so its history says which redrive took it."""
        described: dict[str, object] = {}
        for name in ("task", "queue", "tenant", "error", "payload", "trace_id"):
            value = getattr(self, name)
            if value is not None:
                described[name] = value
        for name in ("failed_after", "failed_before"):
            moment: datetime | None = getattr(self, name)
            if moment is not None:
                described[name] = moment.isoformat()
        if self.ids is not None:
            described["ids"] = len(self.ids)
        return described

    def failed_by(self, moment: datetime) -> RedriveFilter:
        """This filter, narrowed to jobs that had failed before `moment`: a redrive's own
        copies that fail again while it runs are not taken up by the same redrive."""
        before = moment if self.failed_before is None else min(self.failed_before, moment)
        return replace(self, failed_before=before)


@dataclass(frozen=True, slots=True)
class Redriven:
    """A dead-letter job (`id`) and the new job it was retried as by a redrive."""

    id: JobId
    retried_by: JobId


@dataclass(frozen=True, slots=True)
class RedriveSkipped:
    """A matching job a redrive could not copy (its stored payload breaks the payload limits:
    a row from before them), and why. It stays in the DLQ, still matching."""

    id: JobId
    reason: str


@dataclass(frozen=True, slots=True)
class RedriveResult:
    matched: int
    """Jobs matching the filter when the call started."""
    redriven: list[Redriven]
    skipped: list[RedriveSkipped]
    remaining: int
    """Jobs matching it after the call's last batch (skipped ones included)."""
    last: JobId | None
    """The last job the call looked at: `after=` for a next call that continues past it."""
    as_of: datetime
    """The store's time when the call counted: it took only jobs that had failed before it.
    A caller that calls again with `filter.failed_by(as_of)` goes on with the same jobs."""
    exact: bool = True
    """False: `matched` and `remaining` are lower bounds (counting stops at
    `search.TOTAL_CAP`, and a common text is counted among the newest rows only)."""


@dataclass(frozen=True, slots=True)
class BulkCancelled:
    """What one bulk cancel call did (`Store.cancel_matching`)."""

    matched: int
    """Live jobs matching the filter when the call started."""
    cancelled: list[JobId]
    """Pending jobs cancelled at once."""
    cancel_requested: list[JobId]
    """Running jobs asked to stop (they end `cancelled` when their worker stops them)."""
    remaining: int
    """Live jobs matching it, not yet asked, after the call's last batch."""
    last: JobId | None
    """The last job the call looked at: `after=` for a next call that continues past it."""
    as_of: datetime
    """The store's time when the call counted: only jobs created before it are taken, so
    jobs submitted while a bulk cancel runs are not cancelled by it."""
    exact: bool = True
    """False: `matched` and `remaining` are lower bounds (counting stops at
    `search.TOTAL_CAP`, and a common text is counted among the newest rows only)."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long finished jobs are kept, by status, in days (`RETENTION_*_DAYS`). A status
    that is not listed is kept forever; an empty policy prunes nothing."""

    days: Mapping[JobStatus, float] = field(default_factory=dict)

    @classmethod
    def of(cls, days: Mapping[JobStatus, float | None]) -> RetentionPolicy:
        """From days per status, where None or 0 (or less) means kept forever."""
        return cls({status: float(value) for status, value in days.items()
                    if value is not None and value > 0 and status in TERMINAL_STATUSES})

    def ages_sec(self) -> list[tuple[JobStatus, float]]:
        """(status, seconds since finishing after which its jobs go), by status name."""
        return sorted((status, days * 86_400.0) for status, days in self.days.items())


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one `prune` call did. `held`: the caller holds the retention lease (False:
    another worker prunes, and nothing was touched)."""

    held: bool
    jobs: Mapping[JobStatus, int] = field(default_factory=dict)
    """Jobs deleted, by status (those with none are left out)."""
    events: int = 0
    """Their `job_events` rows deleted with them."""

    @property
    def total(self) -> int:
        return sum(self.jobs.values())


@dataclass(frozen=True, slots=True)
class RetentionState:
    """What retention has done so far, for `GET /retention`."""

    last_run_at: datetime | None
    """When a worker last ran a pruning batch (found something or not)."""
    holder: str | None
    """The worker that holds the retention lease (it may have stopped since)."""
    pruned: Mapping[JobStatus, int]
    """Jobs deleted by retention since the database was created, by status."""


@dataclass(frozen=True, slots=True)
class Sampled:
    """What one `sample_stats` call did."""

    minute: datetime | None
    """The minute it sampled; None: that minute (or a later one) was sampled already, by
    another worker, and nothing was written."""
    queues: int = 0
    """Queue depth rows written (one per tenant and queue)."""
    jobs: int = 0
    """Jobs that ended in the minute, counted in its latency figures."""
    events: int = 0
    """Events read for failures (those after the previous sample's last)."""
    pruned: int = 0
    """Rows of samples past STATS_KEEP_DAYS deleted."""


@dataclass(frozen=True, slots=True)
class QueueSample:
    """A queue's depth at the end of `minute` (just after, when it was sampled)."""

    minute: datetime
    queue: str
    pending: int
    """Runnable pending jobs."""
    running: int
    oldest_pending_age_sec: float | None
    """How long the oldest runnable pending job had waited; None: there was none."""


@dataclass(frozen=True, slots=True)
class LatencySample:
    """Wait and run time percentiles, in seconds, of the jobs that ended done or failed in
    `minute` (wait: from runnable to started; run: from started to finished)."""

    minute: datetime
    jobs: int
    wait_p50: float
    wait_p95: float
    wait_p99: float
    run_p50: float
    run_p95: float
    run_p99: float


@dataclass(frozen=True, slots=True)
class FailureSample:
    """Failed attempts of `task` in `minute`: retried (after a failure or an expired lease)
    or dead-lettered."""

    minute: datetime
    task: str
    failures: int


class Store(Protocol):
    """Everything conveyor persists. Each call is one transaction, events included."""

    supports_notify: ClassVar[bool]
    """True: `wait_for_change` is pushed by the database (LISTEN/NOTIFY); False: it polls."""

    call_timeout: float
    """Seconds a call may take before it raises `StoreUnavailable` (a client-side deadline,
    so a cut network is noticed in seconds, not when TCP gives up); 0: none."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""

    # -- producers -------------------------------------------------------------------------
    async def submit(self, job: NewJob, rate: RateLimit | None = None) -> SubmitResult:
        """Create a job, or return the existing one for a repeated (tenant, idempotency key),
        or the live job holding the job's (tenant, unique key) (`unique_hit`).

        Raises `IdempotencyConflict` when the key was used with another `request_hash`, and
        `RateLimited` when the tenant's bucket is empty; replays and unique hits never spend
        a token.
        """

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        """`submit` for many jobs in one transaction: all are created or none."""

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        """Create a new pending job from a failed one; link both ways. Returns the new job.
        It keeps the unique key, and holds it unless a live job already does (then it is
        created all the same, without holding it).

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
        *,
        filter: JobFilter | None = None,
        after: JobId | None = None,
    ) -> Page:
        """The jobs `filter` matches (`status` and `tenant` narrow it further), newest first:
        `limit` of them after skipping `offset`, or (keyset pagination, fast at any depth)
        those older than the job `after`. The page's `next_cursor` is the `after` of the
        next page. Its `total` is exact for a status alone (from counters) and counted up to
        `search.TOTAL_CAP` otherwise (`total_exact` false past it)."""

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        """The job's history, oldest first."""

    async def counts(self) -> Counts: ...

    async def tenant_counts(self, tenant: str) -> Counts:
        """One tenant's figures, counted from its stored rows (what a tenant's key sees on
        /metrics): per status, `jobs_submitted` the jobs stored, `retries` those that are
        retries. A scan of the tenant's rows, unlike `counts`."""

    async def throughput(self, minutes: int, tenant: str | None = None
                         ) -> list[ThroughputBucket]:
        """Jobs that ended done or failed in each of the last `minutes` minutes, oldest first;
        minutes with neither are left out. `tenant`: only that tenant's."""

    async def events_after(self, seq: int, limit: int = 1000) -> list[JobEvent]:
        """Events with a sequence number above `seq`, in order."""

    async def last_event_seq(self) -> int: ...

    async def wait_for_change(self, since_seq: int, timeout: float) -> int:
        """Return the newest event seq once it is above `since_seq`, or after `timeout`."""

    async def wait_for_work(self, since: int, timeout: float) -> int:
        """Return a mark once it is above `since`, or after `timeout`: the mark moves when a
        commit may have made jobs leasable (a job left pending, a capped tenant's job ended,
        a queue resumed, tenant settings changed, reservations freed), so a worker waits
        here instead of on every event, and is not woken by other workers' leases and acks.
        Start with `since=0`; a mark from one store means nothing to another."""

    # -- queues ----------------------------------------------------------------------------
    async def pause_queue(self, name: str) -> QueueInfo:
        """Stop every worker from leasing (or reserving) the queue's jobs: their next lease
        skips it. Jobs already running, or reserved by a worker, go on; pending ones wait.
        Pausing a paused queue changes nothing."""

    async def resume_queue(self, name: str) -> QueueInfo:
        """Let workers lease the queue's jobs again (idle ones find them by their next poll
        or wake-up)."""

    async def list_queues(self, tenant: str | None = None) -> list[QueueInfo]:
        """Every queue with live jobs, jobs finished in the last minute, or a pause state,
        by name. `tenant`: the queues with that tenant's jobs, counting only those."""

    # -- tenants ---------------------------------------------------------------------------
    async def set_tenant(
        self,
        name: str,
        weight: int | None = None,
        max_running: int | None = None,
        rate_per_minute: int | None = None,
    ) -> TenantInfo:
        """Replace the tenant's overrides (a None field: back to the default); every worker's
        next lease and every API process's submits within `TENANT_SETTINGS_TTL_SEC` follow."""

    async def get_tenant(self, name: str) -> TenantInfo:
        """The tenant's settings and live jobs; any name is a tenant (with the defaults and
        no jobs if nothing was set or submitted for it)."""

    async def list_tenants(self) -> list[TenantInfo]:
        """Every tenant with a setting or with pending or running jobs, by name."""

    async def tenant_settings(self) -> dict[str, TenantSettings]:
        """Every tenant's overrides, without figures: what submitters cache."""

    # -- the dead-letter queue -------------------------------------------------------------
    async def redrive(
        self,
        filter: RedriveFilter,
        limit: int,
        dry_run: bool = False,
        *,
        after: JobId | None = None,
        trace_id: str | None = None,
        actor: str | None = None,
    ) -> RedriveResult:
        """`retry` for up to `limit` failed, not yet retried jobs matching `filter`, oldest
        first (by id; with `after`, only those after that id): each gets a new pending job,
        linked both ways, and a `job_retried` event whose data also says `redrive: true` and
        the filter. Done in batches, each one transaction with its events, so a large DLQ
        never holds the writer long. Only jobs that had failed when the call began are
        taken (`as_of`), so copies that fail again meanwhile are not redriven in a loop. A
        job whose payload breaks the limits is skipped, not fatal. `dry_run` (or a `limit`
        of 0) only counts. `actor` (who asked) is recorded beside the filter."""

    async def cancel_matching(
        self,
        filter: JobFilter,
        limit: int,
        dry_run: bool = False,
        *,
        after: JobId | None = None,
        actor: str | None = None,
    ) -> BulkCancelled:
        """`cancel` for up to `limit` live (pending or running) jobs matching `filter`,
        oldest first (by id; with `after`, only those after it), in batches, each one
        transaction with its events; each event's data says `bulk: true`, the filter and
        the `actor`. Running jobs already asked to stop are not matched. Only jobs created
        before the call began are taken (`as_of`: pass it as `created_before` to go on).
        `dry_run` (or a `limit` of 0) only counts."""

    # -- schedules -------------------------------------------------------------------------
    async def sync_schedules(self, specs: Sequence[ScheduleSpec]) -> None:
        """Write the schedules declared in code (`source = "code"`): a new one starts as
        declared; a known one takes the code's definition but keeps its `enabled` (an
        operator's switch outlives restarts) and, while its timing is unchanged, its next
        tick."""

    async def create_schedule(self, spec: ScheduleSpec) -> Schedule:
        """A new schedule (`source = "api"`), first due at its first tick after now.
        Raises `ScheduleExists`, or `InvalidSchedule`."""

    async def update_schedule(self, name: str, changes: Mapping[str, Any]) -> Schedule:
        """Change a schedule's fields (not its name). A new timing, or enabling it, makes
        it next due at its first tick after now; disabling clears `next_run_at`. Raises
        `ScheduleNotFound`, or `InvalidSchedule`."""

    async def delete_schedule(self, name: str) -> None:
        """Raises `ScheduleNotFound`. Jobs it fired stay."""

    async def get_schedule(self, name: str) -> Schedule:
        """Raises `ScheduleNotFound`."""

    async def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""

    async def fire_schedules(self, default_max_retries: int) -> Firing:
        """Fire each enabled schedule whose tick has come, by the store's clock: one job
        (carrying `schedule` and `scheduled_for`) for the most recent due tick, however
        many were missed and however many processes call this at once; a schedule with
        `overlap=False` whose previous job is pending or running fires nothing for the
        tick. Each schedule then waits for its first tick after now. Returns what was
        fired, and the seconds until the soonest next tick."""

    # -- API keys --------------------------------------------------------------------------
    async def create_key(self, key: ApiKey) -> ApiKey:
        """Keep a new key's record (its hash, never the key)."""

    async def find_key(self, key_id: str) -> ApiKey | None:
        """The key with this id, revoked or not; None if there is none."""

    async def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first, revoked ones included."""

    async def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke a key (revoking twice keeps the first time). Raises `KeyNotFound`."""

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

    async def next_due(
        self, queues: Sequence[str], *, later_than: float | None = None
    ) -> float | None:
        """Seconds until the earliest free pending job of `queues` may run (zero or less:
        one may run now); None when there is none. An idle worker sleeps until then.

        `later_than`: of the jobs due more than that many seconds from now only (negative:
        ago). When the jobs due already are held back (their tenant at its cap), the next
        moment another may run; a worker reaches back to its lease, so that a job that came
        due since is found too (`worker.loop.idle_wait`)."""

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

    # -- retention -------------------------------------------------------------------------
    async def prune(
        self, policy: RetentionPolicy, holder: str, limit: int, hold_for_sec: float
    ) -> Pruned:
        """Delete one batch of at most `limit` finished jobs past their status's age in
        `policy` (by the store's clock, oldest finish first), with their events, in one short
        transaction; callers loop until a batch comes back empty. Only one holder at a time:
        the call first takes or renews the retention lease for `holder` (`hold_for_sec`), and
        does nothing (`held=False`) while another holder's lease is live.

        Kept whatever their age: a job whose retry has not finished yet; a retry while the
        job it retried is stored (so a chain goes oldest first, and the retry's `retry_of`
        is cleared when its original goes); and the job with the newest event, so the event
        log's last seq never goes back. No counter but `pruned:<status>` moves.
        """

    async def retention_state(self) -> RetentionState:
        """When retention last ran, who holds its lease, and what it has deleted."""

    async def register_worker(self, info: WorkerInfo) -> None: ...

    async def worker_seen(self, worker_id: str, running: int) -> None: ...

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def list_workers(self, seen_within_sec: float, tenant: str | None = None
                           ) -> list[WorkerInfo]:
        """Workers seen lately; with `tenant`, each one's `running` counts only that
        tenant's jobs."""

    # -- charts ----------------------------------------------------------------------------
    async def sample_stats(self, sampler: str, keep_days: float,
                           minute: datetime | None = None) -> Sampled:
        """Write the chart samples of `minute` (by default the last minute that has ended,
        by the store's clock; a minute not ended yet is a ValueError) in one transaction:
        queue depth per tenant and queue as it is now, latency percentiles of the jobs that
        ended in the minute, failed attempts per task from the events after the last sample's
        (`store/charts.py` has the rules). Exactly once per minute however many workers call
        it: a minute no later than the last one sampled writes nothing (`minute` None).
        Samples of minutes more than `keep_days` old are deleted in the same call."""

    async def queue_samples(self, minutes: int, tenant: str | None = None
                            ) -> list[QueueSample]:
        """Queue depth of each of the last `minutes` (1..1440) ended minutes that were
        sampled, oldest first, then by queue. `tenant`: only that tenant's jobs; otherwise
        every tenant's together."""

    async def latency_samples(self, minutes: int, tenant: str | None = None
                              ) -> list[LatencySample]:
        """Latency of each of the last `minutes` ended minutes in which jobs ended, oldest
        first. `tenant`: that tenant's jobs; otherwise every tenant's together."""

    async def failure_samples(self, minutes: int, tenant: str | None = None
                              ) -> list[FailureSample]:
        """Failed attempts per task in each of the last `minutes` sampled minutes (those
        with none left out), oldest first, then by task. `tenant`: only that tenant's."""
