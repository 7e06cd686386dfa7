"""Conversions between SQLite rows and domain objects (epoch REAL ⇄ aware datetimes)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any, TypeAlias

from conveyor.models import EventType, Job, JobEvent, JobId, JobStatus, Lease
from conveyor.store.base import WorkerInfo

EventRow: TypeAlias = tuple[
    str, str, str, float, int, str, str, "str | None", "str | None", "str | None"
]
"""(job_id, type, status, at, attempt, tenant, task, worker, error, data JSON)."""


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _id(value: str | None) -> JobId | None:
    return None if value is None else uuid.UUID(value)


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=uuid.UUID(row["id"]),
        tenant=row["tenant"],
        queue=row["queue"],
        task=row["task"],
        payload=json.loads(row["payload"]),
        status=JobStatus(row["status"]),
        priority=row["priority"],
        attempts=row["attempts"],
        max_retries=row["max_retries"],
        run_at=datetime.fromtimestamp(row["run_at"], UTC),
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
        started_at=_time(row["started_at"]),
        finished_at=_time(row["finished_at"]),
        lease_owner=row["lease_owner"],
        lease_expires_at=_time(row["lease_expires_at"]),
        last_error=row["last_error"],
        result=None if row["result"] is None else json.loads(row["result"]),
        idempotency_key=row["idempotency_key"],
        retry_of=_id(row["retry_of"]),
        retried_by=_id(row["retried_by"]),
        trace_id=row["trace_id"],
    )


def lease_from_row(row: sqlite3.Row) -> Lease:
    return Lease(
        job_id=uuid.UUID(row["id"]),
        token=uuid.UUID(row["lease_token"]),
        task=row["task"],
        payload=json.loads(row["payload"]),
        attempt=row["attempts"],
        max_retries=row["max_retries"],
        tenant=row["tenant"],
        queue=row["queue"],
        trace_id=row["trace_id"],
    )


def event_from_row(row: sqlite3.Row) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=uuid.UUID(row["job_id"]),
        type=EventType(row["type"]),
        status=JobStatus(row["status"]),
        at=datetime.fromtimestamp(row["at"], UTC),
        attempt=row["attempt"],
        tenant=row["tenant"],
        task=row["task"],
        worker=row["worker"],
        error=row["error"],
        data=json.loads(row["data"]) if row["data"] else {},
    )


def worker_from_row(row: sqlite3.Row) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        queues=json.loads(row["queues"]),
        concurrency=row["concurrency"],
        started_at=_time(row["started_at"]),
        last_seen_at=_time(row["last_seen_at"]),
        running=row["running"],
    )
