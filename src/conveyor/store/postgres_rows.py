"""Conversions between PostgreSQL rows (psycopg dict rows) and domain objects.

psycopg already turns `uuid` into `uuid.UUID`, `jsonb` into Python values and `timestamptz`
into aware datetimes (UTC, because every pool connection sets `TimeZone=UTC`), so these are
mostly renames.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

from conveyor.models import EventType, Job, JobEvent, JobStatus, Lease
from conveyor.store.base import WorkerInfo

Row: TypeAlias = dict[str, Any]

JOB_COLUMNS = (
    "id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at,"
    " created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result,"
    " idempotency_key, request_hash, retry_of, retried_by, trace_id"
)
"""Named, never `*`: a prepared `SELECT *` fails ("cached plan must not change result type")
once a later migration adds a column, in every process still running the old code."""

EVENT_COLUMNS = "seq, job_id, type, status, at, attempt, tenant, task, worker, error, data"


def dumps(value: Any) -> str:
    """JSON text for a `jsonb` parameter (sent as text, cast in SQL, so arrays of it work)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def job_from_row(row: Row) -> Job:
    return Job(
        id=row["id"],
        tenant=row["tenant"],
        queue=row["queue"],
        task=row["task"],
        payload=row["payload"],
        status=JobStatus(row["status"]),
        priority=row["priority"],
        attempts=row["attempts"],
        max_retries=row["max_retries"],
        run_at=row["run_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        last_error=row["last_error"],
        result=row["result"],
        idempotency_key=row["idempotency_key"],
        retry_of=row["retry_of"],
        retried_by=row["retried_by"],
        trace_id=row["trace_id"],
    )


def lease_from_row(row: Row) -> Lease:
    return Lease(
        job_id=row["id"],
        token=row["lease_token"],
        task=row["task"],
        payload=row["payload"],
        attempt=row["attempts"],
        max_retries=row["max_retries"],
        tenant=row["tenant"],
        queue=row["queue"],
        trace_id=row["trace_id"],
    )


def event_from_row(row: Row) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=row["job_id"],
        type=EventType(row["type"]),
        status=JobStatus(row["status"]),
        at=row["at"],
        attempt=row["attempt"],
        tenant=row["tenant"],
        task=row["task"],
        worker=row["worker"],
        error=row["error"],
        data=row["data"] or {},
    )


def worker_from_row(row: Row) -> WorkerInfo:
    return WorkerInfo(
        id=row["id"],
        host=row["host"],
        pid=row["pid"],
        queues=list(row["queues"]),
        concurrency=row["concurrency"],
        started_at=row["started_at"],
        last_seen_at=row["last_seen_at"],
        running=row["running"],
    )
