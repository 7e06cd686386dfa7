"""`DriverStore`: the `Store` protocol written once, over the operations each driver supplies.

Both drivers share one floor plan. Each is a package with the same modules for the same
concerns:

- `producers`: submit_many, submit_each (group commit), retry, cancel, cancel_matching
- `workers`:   lease, reserve, start, heartbeat, progress, next_due, finish, release, rescue,
               and the worker registry
- `queues`:    pause_queue, resume_queue, list_queues (operators' view and switches)
- `schedules`: sync_schedules, create/update/delete/get/list_schedules, fire_schedules
               (periodic schedules, `conveyor.schedules`)
- `keys`:      create_key, find_key, list_keys, revoke_key (API keys, `conveyor.keys`)
- `retention`: prune, retention_state (deleting old finished jobs, one worker at a time)
- `dlq`:       redrive (retrying the dead-letter jobs a filter matches, in batches)
- `stats`:     sample_stats, queue_samples, latency_samples, failure_samples (the
               dashboard's charts, sampled once a minute: `store/charts.py`)
- `tenants`:   set_tenant, get_tenant, list_tenants, tenant_settings (fair dispatch's
               per-tenant weight, cap and rate limit)
- `reads`:     get, list_jobs, job_events, counts, tenant_counts, throughput, events_after,
               last_event_seq, list_workers
- `search`:    the job filter (`store.search`) rendered into the driver's SQL: list pages,
               capped counts, and the batches bulk actions lock (redrive, cancel_matching)
- `rows`:      conversions between rows and domain objects
- `migrate`:   applying `migrations/<driver>/*.sql`
- `store`:     the store class: connections, transactions, waiting for changes

and one function per `Store` operation, named like the operation, in the module `OPERATIONS`
assigns it (`tests/store/test_layout.py` holds both drivers to this table). This class holds
what is the same for both drivers: the guards in front of each operation (empty batches,
payload limits), which operations write and which only read, and the rules applied around
them (`store/rules.py`). A driver supplies `_write(name, *args)`, which runs its operation
`name` as one write transaction, `_read(name, *args)`, which runs it on one consistent
snapshot, and what only it knows: `close`, `ping`, `wait_for_change`, `wait_for_work`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import ModuleType
from typing import Any, ClassVar

from conveyor.keys import ApiKey
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
from conveyor.payloads import check_json
from conveyor.schedules import Firing, Schedule, ScheduleSpec
from conveyor.store import charts, rules
from conveyor.store import search as rules_of_search
from conveyor.store.base import (
    BulkCancelled,
    FailureSample,
    Held,
    LatencySample,
    Pruned,
    QueueInfo,
    QueueSample,
    RedriveFilter,
    Redriven,
    RedriveResult,
    RedriveSkipped,
    RetentionPolicy,
    RetentionState,
    Sampled,
    TenantInfo,
    TenantSettings,
    ThroughputBucket,
    WorkerInfo,
)
from conveyor.store.deadline import DEFAULT_CALL_TIMEOUT_SEC
from conveyor.store.group import GroupCommit
from conveyor.store.search import JobFilter
from conveyor.tenancy import check_tenant_settings

OPERATIONS: dict[str, str] = {
    "submit_many": "producers",
    "submit_each": "producers",
    "retry": "producers",
    "cancel": "producers",
    "cancel_matching": "producers",
    "pause_queue": "queues",
    "resume_queue": "queues",
    "list_queues": "queues",
    "sync_schedules": "schedules",
    "create_schedule": "schedules",
    "update_schedule": "schedules",
    "delete_schedule": "schedules",
    "get_schedule": "schedules",
    "list_schedules": "schedules",
    "fire_schedules": "schedules",
    "create_key": "keys",
    "find_key": "keys",
    "list_keys": "keys",
    "revoke_key": "keys",
    "redrive": "dlq",
    "set_tenant": "tenants",
    "get_tenant": "tenants",
    "list_tenants": "tenants",
    "tenant_settings": "tenants",
    "lease": "workers",
    "reserve": "workers",
    "start": "workers",
    "heartbeat": "workers",
    "progress": "workers",
    "next_due": "workers",
    "finish": "workers",
    "release": "workers",
    "rescue": "workers",
    "register_worker": "workers",
    "worker_seen": "workers",
    "unregister_worker": "workers",
    "get": "reads",
    "list_jobs": "reads",
    "job_events": "reads",
    "counts": "reads",
    "tenant_counts": "reads",
    "throughput": "reads",
    "events_after": "reads",
    "last_event_seq": "reads",
    "list_workers": "reads",
    "prune": "retention",
    "retention_state": "retention",
    "sample_stats": "stats",
    "queue_samples": "stats",
    "latency_samples": "stats",
    "failure_samples": "stats",
}
"""Every operation a driver implements, and the module of the driver that holds it."""

MAX_PRUNE_BATCH = 10_000
"""Most jobs one `prune` call deletes, whatever it is asked: a batch is meant to be small."""


Batch = Callable[[int, JobId | None], Awaitable[tuple[int, int, JobId | None]]]
"""One batch of a bulk action: `(size, after)` → (jobs taken, jobs examined, last id)."""


async def _in_batches(limit: int, after: JobId | None, batch: Batch) -> JobId | None:
    """Run `batch` until `limit` jobs are taken, or a batch examines fewer jobs than its size
    (none are left), each batch of at most `rules.REDRIVE_BATCH` (short transactions) and
    starting after the last job the one before examined, so a job passed over (skipped) is
    not taken up again. Returns the last job examined."""
    taken, cursor = 0, after
    while taken < limit:
        size = min(rules.REDRIVE_BATCH, limit - taken)
        done, examined, last = await batch(size, cursor)
        taken += done
        cursor = last or cursor
        if examined < size:
            break
    return cursor


@dataclass(frozen=True, slots=True)
class CancelBatch:
    """What a driver's `cancel_matching` answers: for a `limit` of 0 only `matched` (and
    `as_of`); otherwise one batch, one transaction."""

    matched: int
    cancelled: list[JobId]
    cancel_requested: list[JobId]
    examined: int
    """Jobs this batch locked: fewer than asked means no more."""
    last: JobId | None
    as_of: datetime | None = None
    exact: bool = True
    """False: `matched` is a lower bound (see `store.search`)."""


@dataclass(frozen=True, slots=True)
class RedriveBatch:
    """What a driver's `redrive` answers: for a `limit` of 0 only `matched`, a count of
    every matching job (the cursor aside); otherwise one batch, one transaction (`matched`
    left 0: counting a large DLQ for every batch would cost more than the batch)."""

    matched: int
    redriven: list[Redriven]
    skipped: list[RedriveSkipped]
    examined: int
    """Jobs this batch took up (redriven or skipped): fewer than asked means no more."""
    last: JobId | None
    """The id of the last one: the next batch starts after it."""
    as_of: datetime | None = None
    """A count's: the store's time it counted at."""
    exact: bool = True
    """A count's: False when `matched` is a lower bound (see `store.search`)."""


def bind_operations(*modules: ModuleType) -> dict[str, Callable[..., Any]]:
    """A driver's operation functions by name, found in the modules `OPERATIONS` names."""
    by_name = {module.__name__.rsplit(".", 1)[-1]: module for module in modules}
    return {name: getattr(by_name[where], name) for name, where in OPERATIONS.items()}


class DriverStore(abc.ABC):
    """The `Store` operations over a driver's `_write` and `_read`."""

    supports_notify: ClassVar[bool]

    call_timeout: float = DEFAULT_CALL_TIMEOUT_SEC
    """Seconds a call may take before it raises `StoreUnavailable` (`store/deadline.py`);
    processes set it from STORE_TIMEOUT_SEC."""

    @abc.abstractmethod
    async def _write(self, operation: str, *args: object) -> Any:
        """Run the driver's `operation` as one write transaction; its result."""

    @abc.abstractmethod
    async def _read(self, operation: str, *args: object) -> Any:
        """Run the driver's `operation` on one consistent snapshot; its result."""

    # -- producers -------------------------------------------------------------------------
    _group_commit: GroupCommit | None = None

    async def submit(self, job: NewJob, rate: RateLimit | None = None) -> SubmitResult:
        """Concurrent submits share a commit (`store/group.py`); each still returns only
        once its own job is committed, with the outcome it would have had alone."""
        rules.check_new_jobs([job])
        if self._group_commit is None:
            self._group_commit = GroupCommit(self._submit_each)
        return await self._group_commit.submit(job, _active(rate))

    async def _submit_each(
        self, jobs: list[NewJob], rate: RateLimit | None
    ) -> list[rules.SubmitOutcome]:
        outcomes: list[rules.SubmitOutcome] = await self._write("submit_each", jobs, rate)
        return outcomes

    async def submit_many(
        self, jobs: Sequence[NewJob], rate: RateLimit | None = None
    ) -> list[SubmitResult]:
        if not jobs:
            return []
        rules.check_new_jobs(jobs)
        results: list[SubmitResult] = await self._write("submit_many", list(jobs), _active(rate))
        return results

    async def retry(self, job_id: JobId, trace_id: str | None = None) -> Job:
        job: Job = await self._write("retry", job_id, trace_id)
        return job

    async def cancel(self, job_id: JobId) -> Job:
        job: Job = await self._write("cancel", job_id)
        return job

    # -- readers ---------------------------------------------------------------------------
    async def get(self, job_id: JobId) -> Job:
        job: Job = await self._read("get", job_id)
        return job

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
        filter = filter or JobFilter()
        if status is not None:
            filter = replace(filter, status=status)
        if tenant is not None:
            filter = replace(filter, tenant=tenant)
        page: Page = await self._read("list_jobs", filter, max(0, limit), max(0, offset),
                                      after)
        return page

    async def job_events(self, job_id: JobId) -> list[JobEvent]:
        events: list[JobEvent] = await self._read("job_events", job_id)
        return events

    async def counts(self) -> Counts:
        counts: Counts = await self._read("counts")
        return counts

    async def tenant_counts(self, tenant: str) -> Counts:
        counts: Counts = await self._read("tenant_counts", tenant)
        return counts

    async def throughput(self, minutes: int, tenant: str | None = None
                         ) -> list[ThroughputBucket]:
        buckets: list[ThroughputBucket] = await self._read("throughput", int(minutes), tenant)
        return buckets

    async def events_after(self, seq: int, limit: int = 1000) -> list[JobEvent]:
        events: list[JobEvent] = await self._read("events_after", seq, limit)
        return events

    async def last_event_seq(self) -> int:
        seq: int = await self._read("last_event_seq")
        return seq

    async def list_workers(self, seen_within_sec: float, tenant: str | None = None
                           ) -> list[WorkerInfo]:
        workers: list[WorkerInfo] = await self._read("list_workers", float(seen_within_sec),
                                                     tenant)
        return workers

    # -- queues ----------------------------------------------------------------------------
    async def pause_queue(self, name: str) -> QueueInfo:
        info: QueueInfo = await self._write("pause_queue", name)
        return info

    async def resume_queue(self, name: str) -> QueueInfo:
        info: QueueInfo = await self._write("resume_queue", name)
        return info

    async def list_queues(self, tenant: str | None = None) -> list[QueueInfo]:
        queues: list[QueueInfo] = await self._read("list_queues", tenant)
        return queues

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
        """A count, batches (`_in_batches`) until `limit` jobs are redriven or none are
        left, and a count again (`remaining`); a skipped job is passed over."""
        limit = max(0, int(limit))
        matched, exact, as_of = await self._count("redrive", filter, 0, None, None, None)
        if dry_run or limit == 0:
            return RedriveResult(matched, [], [], matched, after, as_of, exact)
        filter = filter.failed_by(as_of)
        redriven: list[Redriven] = []
        skipped: list[RedriveSkipped] = []

        async def batch(size: int, cursor: JobId | None) -> tuple[int, int, JobId | None]:
            done: RedriveBatch = await self._write("redrive", filter, size, cursor, trace_id,
                                                   actor)
            redriven.extend(done.redriven)
            skipped.extend(done.skipped)
            return len(done.redriven), done.examined, done.last

        cursor = await _in_batches(limit, after, batch)
        remaining, still_exact, _ = await self._count("redrive", filter, 0, None, None, None)
        return RedriveResult(matched, redriven, skipped, remaining, cursor, as_of,
                             exact and still_exact)

    async def _count(self, operation: str, *args: object) -> tuple[int, bool, datetime]:
        """A bulk operation's batch of size 0, read as a count: the jobs it matches, whether
        that is exact, and the moment it was counted."""
        counted: RedriveBatch | CancelBatch = await self._read(operation, *args)
        assert counted.as_of is not None
        return (*rules_of_search.total_of(counted.matched, counted.exact), counted.as_of)

    async def cancel_matching(
        self,
        filter: JobFilter,
        limit: int,
        dry_run: bool = False,
        *,
        after: JobId | None = None,
        actor: str | None = None,
    ) -> BulkCancelled:
        """A count, batches (`_in_batches`) until `limit` jobs are taken or none are left,
        and a count again (`remaining`)."""
        limit = max(0, int(limit))
        matched, exact, as_of = await self._count("cancel_matching", filter, 0, None, None)
        if dry_run or limit == 0:
            return BulkCancelled(matched, [], [], matched, after, as_of, exact)
        before = as_of if filter.created_before is None else min(filter.created_before, as_of)
        filter = replace(filter, created_before=before)
        cancelled: list[JobId] = []
        requested: list[JobId] = []

        async def batch(size: int, cursor: JobId | None) -> tuple[int, int, JobId | None]:
            done: CancelBatch = await self._write("cancel_matching", filter, size, cursor,
                                                  actor)
            cancelled.extend(done.cancelled)
            requested.extend(done.cancel_requested)
            return len(done.cancelled) + len(done.cancel_requested), done.examined, done.last

        cursor = await _in_batches(limit, after, batch)
        remaining, still_exact, _ = await self._count("cancel_matching", filter, 0, None, None)
        return BulkCancelled(matched, cancelled, requested, remaining, cursor, as_of,
                             exact and still_exact)

    # -- tenants ---------------------------------------------------------------------------
    async def set_tenant(
        self,
        name: str,
        weight: int | None = None,
        max_running: int | None = None,
        rate_per_minute: int | None = None,
    ) -> TenantInfo:
        settings = TenantSettings(weight, max_running, rate_per_minute)
        check_tenant_settings(settings)
        info: TenantInfo = await self._write("set_tenant", name, settings)
        return info

    async def get_tenant(self, name: str) -> TenantInfo:
        info: TenantInfo = await self._read("get_tenant", name)
        return info

    async def list_tenants(self) -> list[TenantInfo]:
        tenants: list[TenantInfo] = await self._read("list_tenants")
        return tenants

    async def tenant_settings(self) -> dict[str, TenantSettings]:
        settings: dict[str, TenantSettings] = await self._read("tenant_settings")
        return settings

    # -- schedules -------------------------------------------------------------------------
    async def sync_schedules(self, specs: Sequence[ScheduleSpec]) -> None:
        for spec in specs:
            check_json(dict(spec.payload))
        if specs:
            await self._write("sync_schedules", [spec.checked() for spec in specs])

    async def create_schedule(self, spec: ScheduleSpec) -> Schedule:
        check_json(dict(spec.payload))
        schedule: Schedule = await self._write("create_schedule", spec.checked())
        return schedule

    async def update_schedule(self, name: str, changes: Mapping[str, Any]) -> Schedule:
        if "payload" in changes:
            check_json(dict(changes["payload"] or {}))
        schedule: Schedule = await self._write("update_schedule", name, dict(changes))
        return schedule

    async def delete_schedule(self, name: str) -> None:
        await self._write("delete_schedule", name)

    async def get_schedule(self, name: str) -> Schedule:
        schedule: Schedule = await self._read("get_schedule", name)
        return schedule

    async def list_schedules(self) -> list[Schedule]:
        schedules: list[Schedule] = await self._read("list_schedules")
        return schedules

    async def fire_schedules(self, default_max_retries: int) -> Firing:
        firing: Firing = await self._write("fire_schedules", int(default_max_retries))
        return firing

    # -- API keys --------------------------------------------------------------------------
    async def create_key(self, key: ApiKey) -> ApiKey:
        created: ApiKey = await self._write("create_key", key)
        return created

    async def find_key(self, key_id: str) -> ApiKey | None:
        found: ApiKey | None = await self._read("find_key", key_id)
        return found

    async def list_keys(self) -> list[ApiKey]:
        keys: list[ApiKey] = await self._read("list_keys")
        return keys

    async def revoke_key(self, key_id: str) -> ApiKey:
        revoked: ApiKey = await self._write("revoke_key", key_id)
        return revoked

    # -- workers ---------------------------------------------------------------------------
    async def lease(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        if limit <= 0 or not queues:
            return []
        leases: list[Lease] = await self._write(
            "lease", worker, sorted(set(queues)), limit, float(lease_for_sec)
        )
        return leases

    async def reserve(
        self, worker: str, queues: Sequence[str], limit: int, lease_for_sec: float
    ) -> list[Lease]:
        if limit <= 0 or not queues:
            return []
        reserved: list[Lease] = await self._write(
            "reserve", worker, sorted(set(queues)), limit, float(lease_for_sec)
        )
        return reserved

    async def start(self, started: Sequence[Started], lease_for_sec: float) -> set[JobId]:
        if not started:
            return set()
        ids: set[JobId] = await self._write(
            "start", sorted(started, key=_by_started), float(lease_for_sec)
        )
        return ids

    async def heartbeat(self, leases: Sequence[Lease], lease_for_sec: float) -> Held:
        if not leases:
            return Held()
        held: Held = await self._write(
            "heartbeat", sorted(leases, key=_by_job), float(lease_for_sec)
        )
        return held

    async def progress(self, reports: Sequence[Progress]) -> set[JobId]:
        if not reports:
            return set()
        latest = {report.lease.job_id: report for report in reports}  # the last one counts
        cleaned = [Progress(r.lease, *rules.clean_progress(r.fraction, r.message))
                   for r in sorted(latest.values(), key=lambda r: r.lease.job_id)]
        recorded: set[JobId] = await self._write("progress", cleaned)
        return recorded

    async def next_due(
        self, queues: Sequence[str], *, later_than: float | None = None
    ) -> float | None:
        if not queues:
            return None
        due: float | None = await self._read("next_due", sorted(set(queues)), later_than)
        return due

    @abc.abstractmethod
    def on_cancel(self, callback: Callable[[JobId], None]) -> None:
        """See `Store.on_cancel`: only the driver knows whether its database can push."""

    async def finish(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        started: Sequence[Started] = (),
        lease_for_sec: float = 0.0,
    ) -> list[bool]:
        """A lease listed twice is applied once, like two calls would be; rows are changed
        in job id order, one global order for every statement that takes several."""
        if not outcomes:
            await self.start(started, lease_for_sec)
            return []
        unique: dict[tuple[JobId, object], Outcome] = {}
        for outcome in outcomes:
            unique.setdefault((outcome.lease.job_id, outcome.lease.token), outcome)
        ordered = sorted(unique.values(), key=lambda outcome: outcome.lease.job_id)
        applied: set[tuple[JobId, object]] = await self._write(
            "finish", ordered, worker, sorted(started, key=_by_started), float(lease_for_sec))
        answers: list[bool] = []
        for outcome in outcomes:
            key = (outcome.lease.job_id, outcome.lease.token)
            answers.append(key in applied)
            applied.discard(key)  # the second listing of one lease was not applied again
        return answers

    async def release(self, leases: Sequence[Lease]) -> None:
        if leases:
            await self._write("release", sorted(leases, key=_by_job))

    async def rescue(self) -> list[JobId]:
        rescued: list[JobId] = await self._write("rescue")
        return sorted(rescued)

    # -- retention -------------------------------------------------------------------------
    async def prune(
        self, policy: RetentionPolicy, holder: str, limit: int, hold_for_sec: float
    ) -> Pruned:
        if limit <= 0 or not policy.days:
            return Pruned(held=False)
        pruned: Pruned = await self._write(
            "prune", policy.ages_sec(), holder, min(int(limit), MAX_PRUNE_BATCH),
            float(hold_for_sec))
        return pruned

    async def retention_state(self) -> RetentionState:
        state: RetentionState = await self._read("retention_state")
        return state

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._write("register_worker", info)

    async def worker_seen(self, worker_id: str, running: int) -> None:
        await self._write("worker_seen", worker_id, running)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._write("unregister_worker", worker_id)

    # -- charts ----------------------------------------------------------------------------
    async def sample_stats(self, sampler: str, keep_days: float,
                           minute: datetime | None = None) -> Sampled:
        if not keep_days > 0:
            raise ValueError("samples must be kept for some days")
        sampled: Sampled = await self._write("sample_stats", sampler, float(keep_days), minute)
        return sampled

    async def queue_samples(self, minutes: int, tenant: str | None = None
                            ) -> list[QueueSample]:
        samples: list[QueueSample] = await self._read(
            "queue_samples", charts.window_minutes(minutes), tenant)
        return samples

    async def latency_samples(self, minutes: int, tenant: str | None = None
                              ) -> list[LatencySample]:
        samples: list[LatencySample] = await self._read(
            "latency_samples", charts.window_minutes(minutes), tenant)
        return samples

    async def failure_samples(self, minutes: int, tenant: str | None = None
                              ) -> list[FailureSample]:
        samples: list[FailureSample] = await self._read(
            "failure_samples", charts.window_minutes(minutes), tenant)
        return samples


def _active(rate: RateLimit | None) -> RateLimit | None:
    """A limit of 0 per minute is no limit."""
    return rate if rate is not None and rate.per_minute > 0 else None


def _by_job(lease: Lease) -> JobId:
    return lease.job_id


def _by_started(started: Started) -> JobId:
    return started.lease.job_id
