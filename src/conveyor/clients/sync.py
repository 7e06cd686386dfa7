"""`conveyor.Client`: the REST API from blocking code, over `httpx.Client`.

Only sends: each method builds its request with `conveyor.clients.calls` and reads the
answer there, exactly as `conveyor.AsyncClient` does.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID

import httpx

from conveyor.clients import calls
from conveyor.clients.calls import Call, JobSpecLike, SearchValue, TaskName
from conveyor.lifecycle import JobStatus
from conveyor.wire import (
    JobList,
    JobOut,
    KeyCreatedOut,
    KeyOut,
    MetricsOut,
    QueueOut,
    RedriveOut,
    ScheduleOut,
    TenantOut,
)

T = TypeVar("T")


class Client:
    """A typed client of one conveyor API (`base_url`), as one tenant (`X-Tenant-Id`) with
    one API key. Errors are `conveyor.client.ClientError`s, typed by status (see
    `conveyor.clients.errors`). Close it, or use it as a context manager."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        tenant: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, headers=calls.headers(api_key, tenant),
                                  timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        response = self._http.request(call.method, call.path, params=call.params,
                                      json=call.json, headers=call.headers)
        return call.read(response.status_code, response.headers, response.content)

    def enqueue(
        self,
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
    ) -> JobOut:
        """Submit a job for the task registered under `task` (a name, or the `@task`
        itself) in the workers. `run_at`: not before this moment (timezone-aware; instead of
        `delay_sec`); `timeout`: seconds each attempt may run (overrides the task's own).
        A repeated `idempotency_key` with the same body returns the job it created.
        `unique_key` (or `unique_fields`): while a job of the tenant with that key is pending
        (`unique_while="active"`: or running), that job is returned, with `unique_hit`."""
        return self._send(calls.enqueue(
            task, payload, idempotency_key=idempotency_key, queue=queue, priority=priority,
            max_retries=max_retries, delay_sec=delay_sec, run_at=run_at, timeout=timeout,
            unique_key=unique_key, unique_fields=unique_fields, unique_while=unique_while))

    def enqueue_many(self, jobs: Iterable[JobSpecLike], *,
                     idempotency_key: str | None = None) -> builtins.list[JobOut]:
        """Submit up to 1,000 jobs (`conveyor.JobSpec`s) in one transaction: all are created
        or none. With `idempotency_key`, job i is keyed `<key>:<i>`."""
        return self._send(calls.enqueue_many(jobs, idempotency_key=idempotency_key))

    def submit_text(self, text: str, *, idempotency_key: str | None = None) -> JobOut:
        """SEED.md's text job: 1 second per character."""
        return self._send(calls.submit_text(text, idempotency_key=idempotency_key))

    def get(self, job_id: UUID | str, *, history: bool = False) -> JobOut:
        """The job now (its `result` once done); `history` adds its event timeline."""
        return self._send(calls.get(job_id, history=history))

    def list(self, status: JobStatus | str | None = None, *, limit: int = 20,
             offset: int = 0, tenant: str | None = None, cursor: UUID | str | None = None,
             **filters: SearchValue) -> JobList:
        """Jobs, newest first; `status`, `tenant` and `filters` (any query parameter of
        `GET /jobs`: `task="mail", error="timeout"`) narrow them. `cursor`: the previous
        page's `next_cursor`."""
        return self._send(calls.list_jobs(status, limit=limit, offset=offset, tenant=tenant,
                                          cursor=cursor, **filters))

    def dlq(self, *, limit: int = 20, offset: int = 0, cursor: UUID | str | None = None,
            **filters: SearchValue) -> JobList:
        """The dead-letter queue: failed jobs, newest first, narrowed as `list` is."""
        return self._send(calls.dlq(limit=limit, offset=offset, cursor=cursor, **filters))

    def retry(self, job_id: UUID | str) -> JobOut:
        """Retry a failed or cancelled job as a new job (returned); `InvalidTransitionError`
        for any other state or a second retry."""
        return self._send(calls.retry(job_id))

    def cancel(self, job_id: UUID | str) -> JobOut:
        """Cancel a job: a pending one is `cancelled` at once; a running one is asked to stop
        (its `cancel_requested_at` is set, and it ends `cancelled` shortly, unless its handler
        finished first). A finished job raises `InvalidTransitionError` (409)."""
        return self._send(calls.cancel(job_id))

    def metrics(self) -> MetricsOut:
        return self._send(calls.metrics())

    def queues(self) -> builtins.list[QueueOut]:
        """Every queue's figures and pause state (`GET /queues`)."""
        return self._send(calls.queues())

    def pause_queue(self, name: str) -> QueueOut:
        """Stop workers from starting the queue's jobs; running ones finish."""
        return self._send(calls.pause_queue(name))

    def resume_queue(self, name: str) -> QueueOut:
        return self._send(calls.resume_queue(name))

    def tenants(self) -> builtins.list[TenantOut]:
        """Every tenant with a setting or live jobs (`GET /tenants`)."""
        return self._send(calls.tenants())

    def tenant(self, name: str) -> TenantOut:
        """One tenant's settings and live jobs (any name: the defaults if none was set)."""
        return self._send(calls.tenant(name))

    def set_tenant(self, name: str, *, weight: int | None = None,
                   max_running: int | None = None,
                   rate_per_minute: int | None = None) -> TenantOut:
        """Replace the tenant's settings (`PUT /tenants/{name}`): one left None goes back
        to the default (weight 1, no cap, RATE_LIMIT_PER_MINUTE)."""
        return self._send(calls.set_tenant(name, weight=weight, max_running=max_running,
                                        rate_per_minute=rate_per_minute))

    def redrive(
        self,
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
    ) -> RedriveOut:
        """Retry up to `limit` dead-letter jobs matching every filter field given
        (`error`: a substring of `last_error`; times timezone-aware), at most
        `rate_per_sec` new jobs a second; `dry_run` only counts. Call again until
        `remaining` is 0 (or a call redrives none: what is left is `skipped`). A paced call
        may take several seconds: give the client a `timeout` above 15 s for it."""
        return self._send(calls.redrive(
            task=task, queue=queue, tenant=tenant, error=error, failed_after=failed_after,
            failed_before=failed_before, dry_run=dry_run, limit=limit,
            rate_per_sec=rate_per_sec))

    def schedules(self) -> builtins.list[ScheduleOut]:
        """Every schedule, by name (`GET /schedules`)."""
        return self._send(calls.schedules())

    def enable_schedule(self, name: str) -> ScheduleOut:
        """Let the schedule fire again, from its next tick."""
        return self._send(calls.set_schedule_enabled(name, True))

    def disable_schedule(self, name: str) -> ScheduleOut:
        """Stop the schedule from firing (its definition is kept)."""
        return self._send(calls.set_schedule_enabled(name, False))

    def create_key(self, *, role: str = "tenant", tenant: str | None = None,
                   name: str | None = None) -> KeyCreatedOut:
        """A new API key (admin keys only); its `key` is shown this once."""
        return self._send(calls.create_key(role, tenant, name))

    def keys(self) -> builtins.list[KeyOut]:
        """Every API key, without the keys themselves."""
        return self._send(calls.keys())

    def revoke_key(self, key_id: str) -> KeyOut:
        """Revoke an API key: within seconds no API process accepts it."""
        return self._send(calls.revoke_key(key_id))

    def wait(self, job_id: UUID | str, *, timeout: float = 60.0,
             interval: float = 0.1) -> JobOut:
        """Poll until the job is done, failed or cancelled and return it (with its `result`,
        or `last_error`); `TimeoutError` if it is not by `timeout` seconds."""
        waiting = calls.Waiting(job_id, timeout, interval)
        while True:
            job = self.get(job_id)
            pause = waiting.pause(job)
            if pause is None:
                return job
            time.sleep(pause)
