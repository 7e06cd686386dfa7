"""The wire types: the HTTP contract's request and response bodies, shared by the API (and
so the OpenAPI document) and `conveyor.Client`.

Only Pydantic here, so the client imports them without FastAPI or the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from conveyor.models import MAX_UNIQUE_KEY, Job, JobEvent, JobStatus, UniqueWhile
from conveyor.payloads import find_problem, readable

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
ID_PREFIX_PATTERN = r"^-*(?:[0-9A-Fa-f]-*){1,32}$"
"""A job id's first hex digits (1 to 32; dashes allowed anywhere)."""
SEARCH_TEXT_MAX = 200
"""Longest `error` or `payload` substring a search takes."""
MAX_SELECTION = 1_000
"""Most job ids one bulk action may name (`ids`)."""
SEARCH_FILTERS = ("tenant", "queue", "task", "trace_id", "id_prefix", "error", "payload",
                  "created_after", "created_before", "finished_after", "finished_before")
"""The query parameters that narrow `GET /jobs` and `GET /dlq` besides `status` (the clients
refuse any other name, which the server would ignore)."""
LooseUUID = Annotated[UUID, Field(strict=False)]
"""A job id in a strict body: JSON has no UUID type, so its text form is the id."""
MIN_TIMEOUT_SEC = 1.0
MAX_TIMEOUT_SEC = 86_400.0
"""A job's `timeout_sec`, per attempt: from a second to a day."""


def in_utc(value: datetime) -> datetime:
    """A body's time in UTC; one with no UTC equivalent (year 1 at +14:00) is refused."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is outside the range of representable times") from None


def _rfc3339_text(value: object) -> object:
    """JSON has no time type: a time in a body is RFC 3339 text (a number is refused, which
    pydantic would otherwise read as a Unix time)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    return value


def _storable(value: str) -> str:
    """Text a filter may hold: what the stores can keep (no NUL, no lone surrogate)."""
    problem = find_problem(value)
    if problem is not None:
        raise ValueError(problem.lstrip(": "))
    return value


Rfc3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(in_utc),
                        Field(strict=False)]
"""A moment in a body (`run_at`, a filter's bounds): RFC 3339 text with an offset, kept in
UTC."""
FilterText = Annotated[str, AfterValidator(_storable)]
"""A bulk filter's text: one the stores can keep."""


class SubmitJob(BaseModel):
    """`{"text": "Hello"}` for SEED.md's text task, `{"payload": {...}}` for the text task
    with a raw payload, or `{"task": "name", "payload": {...}}` for any registered task.

    Strict: `true`, `2.0` or `"3"` are not integers, as the document says."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = Field(None, max_length=10_000, description="Shortcut for the text task.")
    task: str | None = Field(
        None, pattern=NAME_PATTERN, description="Task name. Defaults to `text`."
    )
    payload: dict[str, Any] | None = Field(None, description="The task's input (JSON object).")
    queue: str = Field("default", pattern=NAME_PATTERN)
    priority: int = Field(0, ge=-1000, le=1000, description="Higher runs first.")
    max_retries: int | None = Field(
        None, ge=0, le=100, description="Retries after the first attempt. Defaults to MAX_RETRIES."
    )
    delay_sec: float = Field(0, ge=0, le=30 * 86400, description="Run no sooner than this.")
    run_at: Rfc3339Time | None = Field(
        None, description="Run no sooner than this moment (RFC 3339 with an "
        "offset, e.g. `2026-12-01T09:30:00+01:00`; stored in UTC). A time in the past runs "
        "now. Not together with `delay_sec`.")
    timeout_sec: float | None = Field(
        None, ge=MIN_TIMEOUT_SEC, le=MAX_TIMEOUT_SEC,
        description="Seconds each attempt may run before it fails with "
        "`Timed out after N s` (and is retried). Defaults to the task's own timeout, if any.")
    unique_key: str | None = Field(
        None, min_length=1, max_length=MAX_UNIQUE_KEY,
        description="While a job of this tenant with this key is pending (or, with "
        "`unique_while: active`, pending or running), answer 200 with that job "
        "(`unique_hit: true`) instead of creating one. Not with `unique_fields`.")
    unique_fields: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None, min_length=1, max_length=16,
        description="Derive the unique key from these payload fields: "
        "`<task>:<the fields and their values as canonical JSON>`. Each must be in the "
        "payload. Defaults to the task's own `unique_on`, when the API knows the task.")
    unique_while: UniqueWhile | None = Field(
        None, description="`pending` (the default): the key is held until the job starts; "
        "`active`: until it is done, failed or cancelled. Needs a unique key.")


class SubmitBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    jobs: list[SubmitJob] = Field(min_length=1, max_length=1000)


class EventOut(BaseModel):
    seq: int
    type: str
    status: JobStatus
    at: datetime
    attempt: int
    worker: str | None
    error: str | None
    data: dict[str, Any]

    @classmethod
    def from_event(cls, event: JobEvent) -> EventOut:
        return cls(seq=event.seq, type=event.type.value, status=event.status, at=event.at,
                   attempt=event.attempt, worker=event.worker, error=event.error,
                   data=dict(event.data))


class JobOut(BaseModel):
    id: UUID
    tenant: str
    queue: str
    task: str
    payload: dict[str, Any]
    status: JobStatus
    priority: int
    attempts: int
    max_retries: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    result: Any
    idempotency_key: str | None
    retry_of: UUID | None
    retried_by: UUID | None
    trace_id: str | None
    timeout_sec: float | None = Field(
        None, description="Seconds each attempt may run; null: the task's default, if any.")
    cancel_requested_at: datetime | None = Field(
        None, description="Set when a running job was asked to stop; it ends `cancelled`.")
    progress: float | None = Field(
        None, description="The handler's last reported progress, 0 to 1.")
    progress_message: str | None = None
    schedule: str | None = Field(None, description="The schedule that fired this job.")
    scheduled_for: datetime | None = Field(
        None, description="The schedule's tick this job stands for.")
    unique_key: str | None = Field(
        None, description="The unique key it was submitted with (kept once it gave it up).")
    unique_while: UniqueWhile | None = Field(
        None, description="`pending` or `active`: while which states it held the key.")
    events: list[EventOut] | None = Field(None, description="With `?history=true`.")
    unique_hit: bool = Field(
        False, description="In a submit's answer: true when this is the live job that "
        "already held the submit's unique key (then the status is 200 and nothing was "
        "created).")

    @classmethod
    def from_job(
        cls, job: Job, events: list[JobEvent] | None = None, *, checked: bool = False,
        unique_hit: bool = False,
    ) -> JobOut:
        """The job as the API shows it. Its payload and result are walked for values that
        break the payload limits (rows stored before them), unless `checked`: the store has
        just checked them, as it does for every job it creates. `unique_hit`: the answer of
        a submit that found this job holding its unique key."""
        if events is None and not unique_hit and (
                checked or (find_problem(job.payload) is None
                            and find_problem(job.result) is None)):
            # Attributes read by pydantic-core; `events` stays unset, so it is omitted
            # where the route excludes unset fields.
            return cls.model_validate(job, from_attributes=True)
        extra: dict[str, Any] = {}
        if events is not None:  # left unset otherwise, so the field is omitted
            extra["events"] = [EventOut.from_event(e) for e in events]
        if unique_hit:
            extra["unique_hit"] = True
        return cls(
            id=job.id, tenant=job.tenant, queue=job.queue, task=job.task,
            payload=readable(dict(job.payload)), status=job.status, priority=job.priority,
            attempts=job.attempts, max_retries=job.max_retries, run_at=job.run_at,
            created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
            lease_owner=job.lease_owner, lease_expires_at=job.lease_expires_at,
            last_error=job.last_error, result=readable(job.result),
            idempotency_key=job.idempotency_key,
            retry_of=job.retry_of, retried_by=job.retried_by, trace_id=job.trace_id,
            timeout_sec=job.timeout_sec, cancel_requested_at=job.cancel_requested_at,
            progress=job.progress, progress_message=job.progress_message,
            schedule=job.schedule, scheduled_for=job.scheduled_for,
            unique_key=job.unique_key, unique_while=job.unique_while,
            **extra,
        )


@cache
def _job_json() -> Callable[[Job], bytes] | None:
    """`Job`'s own serializer, when `JobOut` is `Job`'s fields in order plus `events` and
    `unique_hit`."""
    if (*(f.name for f in fields(Job)), "events", "unique_hit") != tuple(JobOut.model_fields):
        return None
    return TypeAdapter(Job).dump_json


def job_out_json(job: Job, *, checked: bool = False, unique_hit: bool = False) -> bytes:
    """`JobOut.from_job(job, checked=checked, unique_hit=unique_hit)` as JSON, byte for byte,
    as the response of a submission. A checked job (one the store just created) is
    serialized straight from the `Job` by pydantic-core, without building the model first,
    which cost a tenth of the API's CPU per submission; `tests/unit` holds both ways to the
    same bytes."""
    dump = _job_json() if checked and not unique_hit and type(job.payload) is dict else None
    if dump is None:  # (any other Mapping is made a dict by `JobOut` first)
        return JobOut.__pydantic_serializer__.to_json(
            JobOut.from_job(job, checked=checked, unique_hit=unique_hit))
    return dump(job)[:-1] + b',"events":null,"unique_hit":false}'


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int = Field(description="Jobs matching: exact when `total_exact`, otherwise a lower "
                       "bound (a filtered count stops at 10,000).")
    limit: int
    offset: int
    total_exact: bool = True
    next_cursor: UUID | None = Field(
        None, description="`cursor` for the next (older) page; null on the last page.")


class BatchOut(BaseModel):
    jobs: list[JobOut]


class MetricsOut(BaseModel):
    """SEED.md's counts."""

    pending: int
    running: int
    done: int
    failed: int
    cancelled: int
    dlq_count: int
    jobs_submitted: int
    retries: int


class HealthOut(BaseModel):
    status: str
    uptime: float


class ReadyOut(BaseModel):
    status: str
    store: str


class ThroughputBucketOut(BaseModel):
    minute: datetime
    done: int
    failed: int


class ThroughputOut(BaseModel):
    buckets: list[ThroughputBucketOut]


class WorkerOut(BaseModel):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    started_at: datetime | None
    last_seen_at: datetime | None


class QueueOut(BaseModel):
    name: str
    paused: bool
    paused_at: datetime | None
    pending: int = Field(description="Runnable now.")
    scheduled: int = Field(description="Pending with a run_at still ahead (or a retry's "
                           "backoff).")
    running: int
    oldest_pending_age_sec: float | None = Field(
        description="How long the oldest runnable pending job has waited.")
    done_last_minute: int
    failed_last_minute: int


class QueuesOut(BaseModel):
    queues: list[QueueOut]


MAX_TENANT_WEIGHT = 1000
MAX_TENANT_RUNNING = 1_000_000
MAX_TENANT_RATE = 1_000_000_000
"""The bounds of a tenant's settings (`TenantIn`), the store's as well."""


class TenantIn(BaseModel):
    """`PUT /tenants/{name}`: the tenant's overrides, all of them (a field left out or null
    goes back to the default)."""

    model_config = ConfigDict(extra="forbid")

    weight: int | None = Field(
        None, ge=1, le=MAX_TENANT_WEIGHT, strict=True,
        description="Its share of the workers against the other tenants with pending jobs "
                    "in the same queues: weight 2 gets about twice the jobs of weight 1. "
                    "Null: 1.")
    max_running: int | None = Field(
        None, ge=0, le=MAX_TENANT_RUNNING, strict=True,
        description="Most of its jobs running (or reserved by a worker) at once, across "
                    "all workers. 0 holds its jobs back. Null: no cap.")
    rate_per_minute: int | None = Field(
        None, ge=0, le=MAX_TENANT_RATE, strict=True,
        description="Its submit rate limit instead of RATE_LIMIT_PER_MINUTE; 0: no limit. "
                    "Null: RATE_LIMIT_PER_MINUTE.")


class TenantOut(BaseModel):
    name: str
    weight: int | None = Field(description="Null: the default, 1.")
    max_running: int | None = Field(description="Null: no cap.")
    rate_per_minute: int | None = Field(description="Null: RATE_LIMIT_PER_MINUTE.")
    pending: int = Field(description="Pending jobs: runnable, scheduled or reserved.")
    running: int


class TenantsOut(BaseModel):
    tenants: list[TenantOut]




class RedriveIn(BaseModel):
    """`POST /dlq/redrive`: which dead-letter jobs to retry (failed ones not retried yet;
    every field given must match, none given: the whole DLQ), and how fast."""

    model_config = ConfigDict(extra="forbid", strict=True)

    task: str | None = Field(None, pattern=NAME_PATTERN)
    queue: str | None = Field(None, pattern=NAME_PATTERN)
    tenant: str | None = Field(None, pattern=NAME_PATTERN)
    error: FilterText | None = Field(
        None, min_length=1, max_length=1000,
        description="A case-sensitive substring of the job's `last_error` (no patterns).")
    failed_after: Rfc3339Time | None = Field(
        None, description="Jobs that failed at or after this moment (RFC 3339 with an "
        "offset).")
    failed_before: Rfc3339Time | None = Field(
        None, description="Jobs that failed before this moment.")
    payload: FilterText | None = Field(None, min_length=1, max_length=SEARCH_TEXT_MAX,
                                       description="A case-sensitive substring of the "
                                       "payload's JSON text.")
    trace_id: FilterText | None = Field(None, min_length=1, max_length=200)
    ids: list[LooseUUID] | None = Field(None, min_length=1, max_length=MAX_SELECTION,
                                        description="Only these jobs (a selection).")
    dry_run: bool = Field(False, description="Only count (`matched`): nothing is redriven.")
    limit: int = Field(1000, ge=1, le=10_000, description="At most this many jobs this call.")
    rate_per_sec: float | None = Field(
        None, ge=0.1, le=10_000, description="At most this many new jobs a second during the "
        "call, created a tenth of a second's worth at a time. A paced call ends within about "
        "5 s (`remaining` says what is left); it answers no sooner than the next job's turn, "
        "so calling again at once keeps the rate.")

    @field_validator("failed_before")
    @classmethod
    def _after_failed_after(cls, value: datetime | None,
                            info: ValidationInfo) -> datetime | None:
        after = info.data.get("failed_after")
        if value is not None and after is not None and value <= after:
            raise ValueError("must be later than failed_after")
        return value


class BulkFilterIn(BaseModel):
    """The filter of a bulk action, as `GET /jobs` takes it (every field given must match),
    and `ids`: a selection."""

    model_config = ConfigDict(extra="forbid", strict=True)

    tenant: str | None = Field(None, pattern=NAME_PATTERN)
    queue: str | None = Field(None, pattern=NAME_PATTERN)
    task: str | None = Field(None, pattern=NAME_PATTERN)
    trace_id: FilterText | None = Field(None, min_length=1, max_length=200)
    id_prefix: str | None = Field(None, pattern=ID_PREFIX_PATTERN)
    error: FilterText | None = Field(None, min_length=1, max_length=SEARCH_TEXT_MAX,
                                     description="A case-sensitive substring of `last_error`.")
    payload: FilterText | None = Field(None, min_length=1, max_length=SEARCH_TEXT_MAX,
                                       description="A case-sensitive substring of the "
                                       "payload's JSON text.")
    created_after: Rfc3339Time | None = None
    created_before: Rfc3339Time | None = None
    ids: list[LooseUUID] | None = Field(None, min_length=1, max_length=MAX_SELECTION,
                                        description="Only these jobs (a selection).")


class BulkCancelIn(BulkFilterIn):
    """`POST /jobs/cancel`: cancel the live jobs a filter (or a selection) matches."""

    status: Literal["pending", "running"] | None = Field(
        None, description="Only pending or only running jobs (none: both).")
    dry_run: bool = Field(False, description="Only count (`matched`): nothing is cancelled.")
    limit: int = Field(1000, ge=1, le=10_000, description="At most this many jobs this call.")


COUNTS_EXACT = ("False: `matched` and `remaining` are lower bounds (counting stops at "
                "10,000, and a common `error` or `payload` text is counted among the newest "
                "rows only). The loop is the same: go on until `remaining` is 0.")


class BulkCancelOut(BaseModel):
    matched: int = Field(description="Live jobs (not yet asked to stop) matching when the "
                         "call started.")
    counts_exact: bool = Field(True, description=COUNTS_EXACT)
    cancelled: int = Field(description="Pending jobs this call cancelled.")
    cancel_requested: int = Field(description="Running jobs this call asked to stop.")
    dry_run: bool
    remaining: int = Field(description="Matching jobs left: call again (with "
                           "`created_before` = `as_of`) until it is 0.")
    as_of: datetime = Field(description="The store's time the call counted at: it took only "
                            "jobs created before it.")


class RedrivenOut(BaseModel):
    id: UUID = Field(description="The dead-letter job.")
    retried_by: UUID = Field(description="The new job it was retried as.")


class RedriveSkippedOut(BaseModel):
    id: UUID
    reason: str = Field(description="Why it cannot be copied (a stored payload beyond the "
                        "payload limits, from before they existed).")


class RedriveOut(BaseModel):
    matched: int = Field(description="Failed, not yet retried jobs matching the filter when "
                         "the call started.")
    counts_exact: bool = Field(True, description=COUNTS_EXACT)
    redriven: int = Field(description="Jobs retried by this call.")
    dry_run: bool
    remaining: int = Field(description="Jobs matching the filter after this call (skipped "
                           "ones included): call again until it is 0.")
    jobs: list[RedrivenOut] = Field(description="Each job redriven and its new job.")
    skipped: list[RedriveSkippedOut] = Field(
        default_factory=list, description="Matching jobs this call could not redrive; they "
        "stay in the DLQ (retry each one alone for its error).")
    as_of: datetime = Field(
        description="The store's time when the call began: it took only jobs that had "
        "failed before then. A caller that loops sends `failed_before` = the first "
        "answer's `as_of` from then on, so redriven jobs that fail again meanwhile are not "
        "redriven again by the same loop.")


class WorkersOut(BaseModel):
    workers: list[WorkerOut]


class ErrorBody(BaseModel):
    code: str
    message: str
    trace_id: str | None = None
    retry_after: float | None = None
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class _ScheduleFields(BaseModel):
    """The fields of a schedule's definition besides its name and task, all optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    payload: dict[str, Any] | None = Field(None, description="The payload of every job fired.")
    cron: str | None = Field(
        None, max_length=200, description="Five fields (minute hour day-of-month month "
        "day-of-week) or an alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), "
        "read in `timezone`. Not together with `interval_sec`.")
    interval_sec: float | None = Field(
        None, ge=1, le=366 * 86400, strict=False,
        description="Fire every this many seconds instead of by `cron`.")
    timezone: str | None = Field(None, max_length=64, description="An IANA time zone name.")
    queue: str | None = Field(None, pattern=NAME_PATTERN)
    tenant: str | None = Field(None, pattern=NAME_PATTERN)
    enabled: bool | None = None
    overlap: bool | None = Field(
        None, description="False: skip a tick while the previous job is pending or running.")
    priority: int | None = Field(None, ge=-1000, le=1000)
    max_retries: int | None = Field(None, ge=0, le=100)


class ScheduleIn(_ScheduleFields):
    """A new schedule (`POST /schedules`): a name, a task, and `cron` or `interval_sec`.
    Left out: `payload` {}, `timezone` UTC, `queue` default, `tenant` the request's
    (X-Tenant-Id), `enabled` and `overlap` true, `priority` 0, `max_retries` the worker's."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique; also its URL.")
    task: str = Field(pattern=NAME_PATTERN, description="The task to fire.")


class SchedulePatch(_ScheduleFields):
    """Changes to a schedule (`PATCH /schedules/{name}`): only the fields given change.
    Giving `cron` switches an interval schedule to cron, and the other way round."""

    task: str | None = Field(None, pattern=NAME_PATTERN, description="The task to fire.")


class ScheduleOut(BaseModel):
    name: str
    task: str
    payload: dict[str, Any]
    queue: str
    tenant: str
    cron: str | None
    interval_sec: float | None
    timezone: str
    enabled: bool
    overlap: bool
    priority: int
    max_retries: int | None = Field(description="Null: the worker's MAX_RETRIES.")
    source: Literal["code", "api"] = Field(
        description="`code`: declared in a task module (written by each worker at start); "
        "`api`: made over the API.")
    next_run_at: datetime | None = Field(description="The next tick; null while disabled.")
    last_run_at: datetime | None = Field(description="The last tick fired (or skipped).")
    last_job_id: UUID | None = Field(description="The job the last fired tick made.")
    created_at: datetime
    updated_at: datetime


class SchedulesOut(BaseModel):
    schedules: list[ScheduleOut]


class KeyIn(BaseModel):
    """A new API key (`POST /keys`, admin keys only)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["admin", "tenant", "readonly"] = Field(
        "tenant", description="`tenant`: read and write the tenant's jobs; `readonly`: read "
        "them; `admin`: every tenant and the operator routes.")
    tenant: str | None = Field(
        None, pattern=NAME_PATTERN,
        description="The key's tenant; needed for `tenant` and `readonly`, not for `admin`.")
    name: str | None = Field(None, min_length=1, max_length=100,
                             description="What the key is for (`ci`, `billing`…).")


class KeyOut(BaseModel):
    id: str = Field(description="The key's public id (its `cvk_<id>_…` part).")
    role: Literal["admin", "tenant", "readonly"]
    tenant: str | None
    name: str | None
    created_at: datetime | None
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, never again.")


class KeysOut(BaseModel):
    keys: list[KeyOut]


class WhoAmIOut(BaseModel):
    role: Literal["admin", "tenant", "readonly"]
    tenant: str | None = Field(description="The key's tenant; null: every tenant.")
    key_id: str | None = Field(description="The stored key's id; null: API_KEY, or no auth.")
    auth: bool = Field(description="Whether the server needs keys (API_KEY is set).")
