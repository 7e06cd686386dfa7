"""Domain types shared by the store drivers, the worker and the API.

The statuses and event types come from `conveyor.lifecycle` (re-exported here); one name per
concept everywhere (SQL, Python, JSON, TypeScript). A `failed` job is in the DLQ.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from conveyor.lifecycle import EventType as EventType
from conveyor.lifecycle import JobStatus as JobStatus

JSONValue: TypeAlias = Any
"""Anything `json.dumps` accepts; kept loose on purpose, payloads belong to their task."""

JobId: TypeAlias = uuid.UUID

UniqueWhile: TypeAlias = Literal["pending", "active"]
"""How long a job holds its unique key: while `pending`, or while `active` (pending or
running). It gives the key up for good when it leaves those states (docs/design.md)."""

MAX_UNIQUE_KEY = 200
"""The longest unique key given; a longer derived one is hashed (`conveyor.submitting`)."""


_last_ms = 0
_counter = 0
_id_lock = threading.Lock()


def new_job_id() -> JobId:
    """UUIDv7: time-ordered, so ids sort by creation and index inserts stay append-only.

    Within one millisecond the 12-bit `rand_a` field is a counter (RFC 9562, method 1), so
    ids made by one process are strictly increasing.
    """
    return new_job_ids(1)[0]


def new_job_ids(n: int) -> list[JobId]:
    """`n` ids as `new_job_id` makes them, in increasing order, with one lock and one read
    of the random source for the lot (a batch of 1,000 makes them in a fifth of the time)."""
    global _last_ms, _counter
    stamps: list[tuple[int, int]] = []
    ms = time.time_ns() // 1_000_000  # one clock reading: the batch takes it as its time
    with _id_lock:
        for _ in range(n):
            if ms > _last_ms:
                _last_ms, _counter = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
            else:
                _counter += 1
                if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    _last_ms, _counter = _last_ms + 1, 0
            stamps.append((_last_ms, _counter))
    noise = os.urandom(8 * n)
    ids = []
    for i, (ms, counter) in enumerate(stamps):
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76  # version
        value |= counter << 64
        value |= 0b10 << 62  # RFC 4122 variant
        value |= int.from_bytes(noise[8 * i:8 * i + 8], "big") & ((1 << 62) - 1)
        ids.append(uuid.UUID(int=value))
    return ids


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a client asks for. `request_hash` identifies the body for idempotency checks."""

    task: str
    payload: Mapping[str, JSONValue]
    tenant: str = "default"
    queue: str = "default"
    priority: int = 0
    max_retries: int = 3
    delay_sec: float = 0.0
    idempotency_key: str | None = None
    request_hash: str | None = None
    trace_id: str | None = None
    run_at: datetime | None = None
    """Run no sooner than this (timezone-aware); instead of `delay_sec`. A past time: now."""
    timeout_sec: float | None = None
    unique_key: str | None = None
    """While a job of the tenant with this key is in the `unique_while` states, this submit
    returns that job instead of creating one (`SubmitResult.unique_hit`)."""
    unique_while: UniqueWhile = "pending"


@dataclass(frozen=True, slots=True)
class Job:
    id: JobId
    tenant: str
    queue: str
    task: str
    payload: Mapping[str, JSONValue]
    status: JobStatus
    priority: int
    attempts: int
    max_retries: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    last_error: str | None = None
    result: JSONValue = None
    idempotency_key: str | None = None
    retry_of: JobId | None = None
    retried_by: JobId | None = None
    trace_id: str | None = None
    timeout_sec: float | None = None
    """The job's own deadline per attempt; None: the task's default (or none)."""
    cancel_requested_at: datetime | None = None
    """When a cancellation of this job was asked for while it ran (it ends `cancelled`)."""
    progress: float | None = None
    """The running handler's last reported progress, 0 to 1."""
    progress_message: str | None = None
    schedule: str | None = None
    """The schedule that fired this job, if one did."""
    scheduled_for: datetime | None = None
    """The schedule's tick this job stands for."""
    unique_key: str | None = None
    """The unique key the job was submitted with (kept after it gave the key up)."""
    unique_while: UniqueWhile | None = None
    """While which states the key kept other submits of it from creating jobs."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    seq: int
    job_id: JobId
    type: EventType
    status: JobStatus
    at: datetime
    attempt: int
    tenant: str
    task: str
    worker: str | None = None
    error: str | None = None
    data: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on one running job. The token fences ack/fail against stale holders."""

    job_id: JobId
    token: uuid.UUID
    task: str
    payload: Mapping[str, JSONValue]
    attempt: int
    max_retries: int
    tenant: str
    queue: str
    trace_id: str | None
    timeout_sec: float | None = None
    """The job's own per-attempt deadline; None: the task's default."""


@dataclass(frozen=True, slots=True)
class Ack:
    lease: Lease
    result: JSONValue = None


@dataclass(frozen=True, slots=True)
class Fail:
    """A failed attempt. The store retries after `retry_in_sec` unless attempts are spent,
    the failure is permanent, or the job's cancellation was requested meanwhile (then it ends
    `cancelled`). `cancelled`: the attempt was stopped by that cancellation (it ends
    `cancelled` whatever else is said). `error_type` and `traceback` go into the attempt's
    event; `error` is the short message kept as `last_error`."""

    lease: Lease
    error: str
    retry_in_sec: float = 0.0
    permanent: bool = False
    cancelled: bool = False
    error_type: str | None = None
    traceback: str | None = None


Outcome: TypeAlias = Ack | Fail


@dataclass(frozen=True, slots=True)
class Started:
    """A reserved job whose handler began `ago_sec` seconds before the store is told, so
    `started_at` and the wait it records are when it really began (on the store's clock)."""

    lease: Lease
    ago_sec: float = 0.0


@dataclass(frozen=True, slots=True)
class Progress:
    """A running handler's progress report: `fraction` from 0 to 1, and a short message."""

    lease: Lease
    fraction: float
    message: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    job: Job
    created: bool  # False: an idempotent replay or a unique hit returned the existing job
    unique_hit: bool = False
    """The job is the live one that already held the submit's unique key."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Token bucket: `per_minute` tokens, refilled continuously; 0 means unlimited."""

    per_minute: int


@dataclass(frozen=True, slots=True)
class Counts:
    """SEED.md's /metrics counts."""

    pending: int
    running: int
    done: int
    failed: int
    jobs_submitted: int
    retries: int
    cancelled: int = 0
    pruned: Mapping[JobStatus, int] = field(default_factory=dict)
    """Jobs of each finished status that retention deleted. The status figures above still
    count them (jobs that reached the status); minus these, they are the jobs stored now."""

    @property
    def dlq_count(self) -> int:
        return self.failed


@dataclass(frozen=True, slots=True)
class Page:
    jobs: Sequence[Job]
    total: int
    total_exact: bool = True
    """False: `total` is a lower bound (a filtered count stops at `search.TOTAL_CAP`)."""
    next_cursor: JobId | None = None
    """`after` for the next (older) page; None when there is none."""
