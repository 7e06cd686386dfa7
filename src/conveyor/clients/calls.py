"""Every call of the HTTP API the clients make, without any I/O.

A client method builds a `Call` here (method, path, query, body, headers), its transport
sends it, and `Call.read` turns the answer into the result or the typed error. `Waiting` is
`wait`'s polling plan. `conveyor.Client` and `conveyor.AsyncClient` are only transports over
these, so whatever one of them sends, the other sends too.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from conveyor.clients.errors import Operation, error_for
from conveyor.lifecycle import TERMINAL_STATUSES, JobStatus
from conveyor.wire import (
    SEARCH_FILTERS,
    BatchOut,
    JobList,
    JobOut,
    KeyCreatedOut,
    KeyOut,
    KeysOut,
    MetricsOut,
    QueueOut,
    QueuesOut,
    RedriveOut,
    ScheduleOut,
    SchedulesOut,
    TenantOut,
    TenantsOut,
)

T = TypeVar("T")


class Named(Protocol):
    """A `@task` (a `conveyor.tasks.Task`), which may stand for its name."""

    @property
    def name(self) -> str: ...


TaskName = str | Named


class JobSpecLike(Protocol):
    """One job of `enqueue_many`: a `conveyor.JobSpec`, the producer API's own, or anything
    with its fields. `timeout` is each attempt's `timeout_sec`, as in `enqueue`."""

    @property
    def task(self) -> TaskName: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def queue(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def delay_sec(self) -> float: ...
    @property
    def run_at(self) -> datetime | None: ...
    @property
    def timeout(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request, and how to read its answer."""

    method: str
    path: str
    operation: Operation
    parse: Callable[[bytes], T]
    params: Mapping[str, str | int] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def read(self, status: int, headers: Mapping[str, str], content: bytes) -> T:
        """The result of a 2xx answer; the typed `ClientError` of any other."""
        if status >= 400:
            raise error_for(self.operation, status, headers, content)
        return self.parse(content)


def headers(api_key: str | None, tenant: str | None) -> dict[str, str]:
    """What every request of one client carries."""
    sent = {}
    if api_key:
        sent["X-API-Key"] = api_key
    if tenant:
        sent["X-Tenant-Id"] = tenant
    return sent


def _job(content: bytes) -> JobOut:
    return JobOut.model_validate_json(content)


def _jobs(content: bytes) -> builtins.list[JobOut]:
    return BatchOut.model_validate_json(content).jobs


def _page(content: bytes) -> JobList:
    return JobList.model_validate_json(content)


def _metrics(content: bytes) -> MetricsOut:
    return MetricsOut.model_validate_json(content)


def _key(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def task_name(task: TaskName) -> str:
    return task if isinstance(task, str) else task.name


def job_body(
    task: TaskName,
    payload: Mapping[str, Any] | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    max_retries: int | None = None,
    delay_sec: float = 0.0,
    run_at: datetime | None = None,
    timeout: float | None = None,
    unique_key: str | None = None,
    unique_fields: Sequence[str] | None = None,
    unique_while: str | None = None,
) -> dict[str, Any]:
    """One job as `POST /jobs` and each item of `POST /jobs/batch` take it. A naive `run_at`
    is refused here: the API would refuse it too, and a guess of the zone is a silent bug."""
    body: dict[str, Any] = {"task": task_name(task), "payload": dict(payload or {}),
                            "queue": queue, "priority": priority, "delay_sec": delay_sec}
    if max_retries is not None:
        body["max_retries"] = max_retries
    if run_at is not None:
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise ValueError("run_at must be timezone-aware (e.g. datetime.now(UTC))")
        body["run_at"] = run_at.isoformat()
    if timeout is not None:
        body["timeout_sec"] = timeout
    if unique_key is not None:
        body["unique_key"] = unique_key
    if unique_fields is not None:
        body["unique_fields"] = list(unique_fields)
    if unique_while is not None:
        body["unique_while"] = unique_while
    return body


def enqueue(
    task: TaskName,
    payload: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    queue: str = "default",
    priority: int = 0,
    max_retries: int | None = None,
    delay_sec: float = 0.0,
    run_at: datetime | None = None,
    timeout: float | None = None,
    unique_key: str | None = None,
    unique_fields: Sequence[str] | None = None,
    unique_while: str | None = None,
) -> Call[JobOut]:
    body = job_body(task, payload, queue=queue, priority=priority, max_retries=max_retries,
                    delay_sec=delay_sec, run_at=run_at, timeout=timeout,
                    unique_key=unique_key, unique_fields=unique_fields,
                    unique_while=unique_while)
    return Call("POST", "/jobs", "submit", _job, json=body, headers=_key(idempotency_key))


def enqueue_many(jobs: Iterable[JobSpecLike], *,
                 idempotency_key: str | None = None) -> Call[builtins.list[JobOut]]:
    """`POST /jobs/batch`: all the jobs in one transaction, or none. With `idempotency_key`,
    job i is keyed `<key>:<i>`, so resending the same batch replays it."""
    items = [
        job_body(spec.task, spec.payload, queue=spec.queue, priority=spec.priority,
                 max_retries=spec.max_retries, delay_sec=spec.delay_sec, run_at=spec.run_at,
                 timeout=spec.timeout, **_unique_options(spec))
        for spec in jobs
    ]
    return Call("POST", "/jobs/batch", "submit", _jobs, json={"jobs": items},
                headers=_key(idempotency_key))


def _unique_options(spec: JobSpecLike) -> dict[str, Any]:
    """A spec's unique options, if it has them (a `conveyor.JobSpec` does; the protocol does
    not require them, so older spec types still work)."""
    return {name: getattr(spec, name, None)
            for name in ("unique_key", "unique_fields", "unique_while")}


def submit_text(text: str, *, idempotency_key: str | None = None) -> Call[JobOut]:
    return Call("POST", "/jobs", "submit", _job, json={"text": text},
                headers=_key(idempotency_key))


def get(job_id: UUID | str, *, history: bool = False) -> Call[JobOut]:
    return Call("GET", f"/jobs/{job_id}", "read", _job,
                params={"history": "true"} if history else {})


SearchValue = str | UUID | datetime | None
"""A search filter's value (`GET /jobs`'s query parameters: `queue`, `task`, `trace_id`,
`id_prefix`, `error`, `payload`, `created_after` … `finished_before`)."""


def _search(limit: int, offset: int, cursor: UUID | str | None,
            filters: Mapping[str, SearchValue]) -> dict[str, str | int]:
    unknown = sorted(set(filters) - set(SEARCH_FILTERS))
    if unknown:  # the server would ignore it and answer every job
        raise TypeError(f"unknown search filter {', '.join(unknown)}; the filters are "
                        f"{', '.join(SEARCH_FILTERS)}")
    params: dict[str, str | int] = {"limit": limit, "offset": offset}
    if cursor is not None:
        params["cursor"] = str(cursor)
    for name, value in filters.items():
        if value is not None:
            params[name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return params


def list_jobs(status: JobStatus | str | None = None, *, limit: int = 20,
              offset: int = 0, tenant: str | None = None, cursor: UUID | str | None = None,
              **filters: SearchValue) -> Call[JobList]:
    params = _search(limit, offset, cursor, {"tenant": tenant, **filters})
    if status is not None:
        params["status"] = JobStatus(status).value
    return Call("GET", "/jobs", "read", _page, params=params)


def dlq(*, limit: int = 20, offset: int = 0, cursor: UUID | str | None = None,
        **filters: SearchValue) -> Call[JobList]:
    return Call("GET", "/dlq", "read", _page, params=_search(limit, offset, cursor, filters))


def retry(job_id: UUID | str) -> Call[JobOut]:
    return Call("POST", f"/jobs/{job_id}/retry", "change", _job)


def cancel(job_id: UUID | str) -> Call[JobOut]:
    return Call("POST", f"/jobs/{job_id}/cancel", "change", _job)


def metrics() -> Call[MetricsOut]:
    return Call("GET", "/metrics", "read", _metrics, headers={"Accept": "application/json"})


def _queues(content: bytes) -> builtins.list[QueueOut]:
    return QueuesOut.model_validate_json(content).queues


def _queue(content: bytes) -> QueueOut:
    return QueueOut.model_validate_json(content)


def queues() -> Call[builtins.list[QueueOut]]:
    return Call("GET", "/queues", "read", _queues)


def pause_queue(name: str) -> Call[QueueOut]:
    return Call("POST", f"/queues/{name}/pause", "change", _queue)


def resume_queue(name: str) -> Call[QueueOut]:
    return Call("POST", f"/queues/{name}/resume", "change", _queue)


def _tenants(content: bytes) -> builtins.list[TenantOut]:
    return TenantsOut.model_validate_json(content).tenants


def _tenant(content: bytes) -> TenantOut:
    return TenantOut.model_validate_json(content)


def tenants() -> Call[builtins.list[TenantOut]]:
    return Call("GET", "/tenants", "read", _tenants)


def tenant(name: str) -> Call[TenantOut]:
    return Call("GET", f"/tenants/{name}", "read", _tenant)


def set_tenant(name: str, *, weight: int | None = None, max_running: int | None = None,
               rate_per_minute: int | None = None) -> Call[TenantOut]:
    """All three settings at once: one left None goes back to the default."""
    return Call("PUT", f"/tenants/{name}", "change", _tenant,
                json={"weight": weight, "max_running": max_running,
                      "rate_per_minute": rate_per_minute})


def _redrive(content: bytes) -> RedriveOut:
    return RedriveOut.model_validate_json(content)


def _moment(name: str, value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC))")
    return value.isoformat()


def redrive(
    *,
    task: str | None = None,
    queue: str | None = None,
    tenant: str | None = None,
    error: str | None = None,
    failed_after: datetime | None = None,
    failed_before: datetime | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    rate_per_sec: float | None = None,
) -> Call[RedriveOut]:
    """`POST /dlq/redrive` with the filter fields given (None: any); `limit` None is the
    API's default (1000)."""
    fields: dict[str, Any] = {
        "task": task, "queue": queue, "tenant": tenant, "error": error,
        "failed_after": _moment("failed_after", failed_after),
        "failed_before": _moment("failed_before", failed_before),
        "limit": limit, "rate_per_sec": rate_per_sec,
    }
    body = {name: value for name, value in fields.items() if value is not None}
    body["dry_run"] = dry_run
    return Call("POST", "/dlq/redrive", "change", _redrive, json=body)


def _schedules(content: bytes) -> builtins.list[ScheduleOut]:
    return SchedulesOut.model_validate_json(content).schedules


def _schedule(content: bytes) -> ScheduleOut:
    return ScheduleOut.model_validate_json(content)


def schedules() -> Call[builtins.list[ScheduleOut]]:
    return Call("GET", "/schedules", "read", _schedules)


def set_schedule_enabled(name: str, enabled: bool) -> Call[ScheduleOut]:
    return Call("PATCH", f"/schedules/{name}", "change", _schedule, json={"enabled": enabled})


def _keys(content: bytes) -> builtins.list[KeyOut]:
    return KeysOut.model_validate_json(content).keys


def create_key(role: str, tenant: str | None, name: str | None) -> Call[KeyCreatedOut]:
    body = {"role": role, **({"tenant": tenant} if tenant else {}),
            **({"name": name} if name else {})}
    return Call("POST", "/keys", "change", KeyCreatedOut.model_validate_json, json=body)


def keys() -> Call[builtins.list[KeyOut]]:
    return Call("GET", "/keys", "read", _keys)


def revoke_key(key_id: str) -> Call[KeyOut]:
    return Call("DELETE", f"/keys/{key_id}", "change", KeyOut.model_validate_json)


@dataclass(slots=True)
class Waiting:
    """`wait`'s plan: ask for the job every `interval` seconds until it is done, failed or
    cancelled, or until `timeout` has passed (`TimeoutError`, with the last status seen). The
    last look is at the deadline itself, so a job that finishes just in time is not missed."""

    job_id: UUID | str
    timeout: float
    interval: float
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be positive seconds")
        self.deadline = time.monotonic() + self.timeout

    def pause(self, job: JobOut) -> float | None:
        """None once `job` is final; otherwise the seconds to sleep before looking again."""
        if job.status in TERMINAL_STATUSES:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"job {self.job_id} still {job.status.value} after "
                               f"{self.timeout:g} s")
        return min(self.interval, left)
