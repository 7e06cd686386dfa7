"""The wire types: the HTTP contract's request and response bodies, shared by the API (and
so the OpenAPI document) and `conveyor.Client`.

Only Pydantic here, so the client imports them without FastAPI or the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

from conveyor.models import Job, JobEvent, JobStatus
from conveyor.payloads import find_problem, readable

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MIN_TIMEOUT_SEC = 1.0
MAX_TIMEOUT_SEC = 86_400.0
"""A job's `timeout_sec`, per attempt: from a second to a day."""


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
    run_at: AwareDatetime | None = Field(
        None, strict=False, description="Run no sooner than this moment (RFC 3339 with an "
        "offset, e.g. `2026-12-01T09:30:00+01:00`; stored in UTC). A time in the past runs "
        "now. Not together with `delay_sec`.")
    timeout_sec: float | None = Field(
        None, ge=MIN_TIMEOUT_SEC, le=MAX_TIMEOUT_SEC,
        description="Seconds each attempt may run before it fails with "
        "`Timed out after N s` (and is retried). Defaults to the task's own timeout, if any.")


    @field_validator("run_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        """A time is RFC 3339 text (lax parsing would take a number as epoch seconds too)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string with an offset")
        return value

    @field_validator("run_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Stored in UTC; a time that has no UTC equivalent (year 1 at +14:00) is refused."""
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("is outside the range of representable times") from None


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
    events: list[EventOut] | None = Field(None, description="With `?history=true`.")

    @classmethod
    def from_job(
        cls, job: Job, events: list[JobEvent] | None = None, *, checked: bool = False
    ) -> JobOut:
        """The job as the API shows it. Its payload and result are walked for values that
        break the payload limits (rows stored before them), unless `checked`: the store has
        just checked them, as it does for every job it creates."""
        if events is None and (checked or (find_problem(job.payload) is None
                                           and find_problem(job.result) is None)):
            # Attributes read by pydantic-core; `events` stays unset, so it is omitted
            # where the route excludes unset fields.
            return cls.model_validate(job, from_attributes=True)
        extra: dict[str, Any] = {}
        if events is not None:  # left unset otherwise, so the field is omitted
            extra["events"] = [EventOut.from_event(e) for e in events]
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
            **extra,
        )


@cache
def _job_json() -> Callable[[Job], bytes] | None:
    """`Job`'s own serializer, when `JobOut` is `Job`'s fields in order plus `events`."""
    if (*(f.name for f in fields(Job)), "events") != tuple(JobOut.model_fields):
        return None
    return TypeAdapter(Job).dump_json


def job_out_json(job: Job, *, checked: bool = False) -> bytes:
    """`JobOut.from_job(job, checked=checked)` as JSON, byte for byte, as the response of a
    submission. A checked job (one the store just created) is serialized straight from the
    `Job` by pydantic-core, without building the model first, which cost a tenth of the API's
    CPU per submission; `tests/unit` holds both ways to the same bytes."""
    dump = _job_json() if checked and type(job.payload) is dict else None
    if dump is None:  # (any other Mapping is made a dict by `JobOut` first)
        return JobOut.__pydantic_serializer__.to_json(JobOut.from_job(job, checked=checked))
    return dump(job)[:-1] + b',"events":null}'


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


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
