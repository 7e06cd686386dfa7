"""Row shapes both drivers share: the column lists (the two schemas name their columns
alike) and the conversions from a row to a domain object, given how a driver decodes its
column types (`RowReader`: SQLite keeps times as epoch REAL and JSON as text, PostgreSQL
hands back datetimes and parsed JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Job, JobEvent, JobId, Lease
from conveyor.schedules import Schedule, ScheduleSpec
from conveyor.store.base import WorkerInfo

JOB_COLUMNS = (
    "id, tenant, queue, task, payload, status, priority, attempts, max_retries, run_at,"
    " created_at, started_at, finished_at, lease_owner, lease_expires_at, last_error, result,"
    " idempotency_key, request_hash, retry_of, retried_by, trace_id, timeout_sec,"
    " cancel_requested_at, progress, progress_message, schedule, scheduled_for, unique_key,"
    " unique_while"
)
"""Named, never `*`: a prepared `SELECT *` fails ("cached plan must not change result type")
once a later migration adds a column, in every process still running the old code."""

EVENT_COLUMNS = "seq, job_id, type, status, at, attempt, tenant, task, worker, error, data"

WORKER_COLUMNS = "id, host, pid, queues, concurrency, started_at, last_seen_at, running"

SCHEDULE_COLUMNS = (
    "name, task, payload, queue, tenant, cron, interval_sec, timezone, enabled, overlap,"
    " priority, max_retries, source, next_run_at, last_run_at, last_job_id, created_at,"
    " updated_at"
)



class Row(Protocol):
    """A row by column name: `sqlite3.Row` or psycopg's dict row."""

    def __getitem__(self, key: str) -> Any: ...


def dumps(value: Any) -> str:
    """Compact JSON text for a JSON column (sent as text; PostgreSQL casts it in SQL)."""
    return _ENCODER.encode(value)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""Made once: `json.dumps` with any argument of its own builds an encoder per call (a
third of a small payload's cost)."""


@dataclass(frozen=True, slots=True)
class RowReader:
    """Domain objects from rows, given how a driver turns its column values into Python."""

    time: Callable[[Any], datetime]
    json: Callable[[Any], Any]
    id: Callable[[Any], JobId]
    token: Callable[[Any], Any]
    array: Callable[[Any], list[str]]

    def maybe_time(self, value: Any) -> datetime | None:
        return None if value is None else self.time(value)

    def maybe_id(self, value: Any) -> JobId | None:
        return None if value is None else self.id(value)

    def job(self, row: Row) -> Job:
        return Job(
            id=self.id(row["id"]),
            tenant=row["tenant"],
            queue=row["queue"],
            task=row["task"],
            payload=self.json(row["payload"]),
            status=JobStatus(row["status"]),
            priority=row["priority"],
            attempts=row["attempts"],
            max_retries=row["max_retries"],
            run_at=self.time(row["run_at"]),
            created_at=self.time(row["created_at"]),
            started_at=self.maybe_time(row["started_at"]),
            finished_at=self.maybe_time(row["finished_at"]),
            lease_owner=row["lease_owner"],
            lease_expires_at=self.maybe_time(row["lease_expires_at"]),
            last_error=row["last_error"],
            result=None if row["result"] is None else self.json(row["result"]),
            idempotency_key=row["idempotency_key"],
            retry_of=self.maybe_id(row["retry_of"]),
            retried_by=self.maybe_id(row["retried_by"]),
            trace_id=row["trace_id"],
            timeout_sec=row["timeout_sec"],
            cancel_requested_at=self.maybe_time(row["cancel_requested_at"]),
            progress=row["progress"],
            progress_message=row["progress_message"],
            schedule=row["schedule"],
            scheduled_for=self.maybe_time(row["scheduled_for"]),
            unique_key=row["unique_key"],
            unique_while=row["unique_while"],
        )


    def lease(self, row: Row) -> Lease:
        return Lease(
            job_id=self.id(row["id"]),
            token=self.token(row["lease_token"]),
            task=row["task"],
            payload=self.json(row["payload"]),
            attempt=row["attempts"],
            max_retries=row["max_retries"],
            tenant=row["tenant"],
            queue=row["queue"],
            trace_id=row["trace_id"],
            timeout_sec=row["timeout_sec"],
        )


    def event(self, row: Row) -> JobEvent:
        return JobEvent(
            seq=row["seq"],
            job_id=self.id(row["job_id"]),
            type=EventType(row["type"]),
            status=JobStatus(row["status"]),
            at=self.time(row["at"]),
            attempt=row["attempt"],
            tenant=row["tenant"],
            task=row["task"],
            worker=row["worker"],
            error=row["error"],
            data=self.json(row["data"]) if row["data"] else {},
        )


    def schedule(self, row: Row) -> Schedule:
        spec = ScheduleSpec(
            name=row["name"], task=row["task"], cron=row["cron"],
            interval_sec=row["interval_sec"], payload=self.json(row["payload"]),
            timezone=row["timezone"], queue=row["queue"], tenant=row["tenant"],
            enabled=bool(row["enabled"]), overlap=bool(row["overlap"]),
            priority=row["priority"], max_retries=row["max_retries"],
        )
        return Schedule(
            spec=spec, source=row["source"], next_run_at=self.maybe_time(row["next_run_at"]),
            last_run_at=self.maybe_time(row["last_run_at"]),
            last_job_id=self.maybe_id(row["last_job_id"]),
            created_at=self.time(row["created_at"]), updated_at=self.time(row["updated_at"]),
        )

    def worker(self, row: Row) -> WorkerInfo:
        return WorkerInfo(
            id=row["id"],
            host=row["host"],
            pid=row["pid"],
            queues=self.array(row["queues"]),
            concurrency=row["concurrency"],
            started_at=self.maybe_time(row["started_at"]),
            last_seen_at=self.maybe_time(row["last_seen_at"]),
            running=row["running"],
        )
