"""`conveyor.AsyncClient`: the REST API from async code, over `httpx.AsyncClient`.

`conveyor.Client` method for method (a test holds their signatures equal), each one awaited;
the requests and their answers are `conveyor.clients.calls`', shared with it.
"""

from __future__ import annotations

import asyncio
import builtins
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


class AsyncClient:
    """`conveyor.Client` for asyncio: `async with AsyncClient(url) as client:`, or
    `await client.close()` when done. Its errors are the same classes."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        tenant: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url,
                                       headers=calls.headers(api_key, tenant),
                                       timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        response = await self._http.request(call.method, call.path, params=call.params,
                                            json=call.json, headers=call.headers)
        return call.read(response.status_code, response.headers, response.content)

    async def enqueue(
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
        """`Client.enqueue`."""
        return await self._send(calls.enqueue(
            task, payload, idempotency_key=idempotency_key, queue=queue, priority=priority,
            max_retries=max_retries, delay_sec=delay_sec, run_at=run_at, timeout=timeout,
            unique_key=unique_key, unique_fields=unique_fields, unique_while=unique_while))

    async def enqueue_many(self, jobs: Iterable[JobSpecLike], *,
                           idempotency_key: str | None = None) -> builtins.list[JobOut]:
        """`Client.enqueue_many`: all in one transaction, or none."""
        return await self._send(calls.enqueue_many(jobs, idempotency_key=idempotency_key))

    async def submit_text(self, text: str, *, idempotency_key: str | None = None) -> JobOut:
        return await self._send(calls.submit_text(text, idempotency_key=idempotency_key))

    async def get(self, job_id: UUID | str, *, history: bool = False) -> JobOut:
        return await self._send(calls.get(job_id, history=history))

    async def list(self, status: JobStatus | str | None = None, *, limit: int = 20,
                   offset: int = 0, tenant: str | None = None,
                   cursor: UUID | str | None = None, **filters: SearchValue) -> JobList:
        return await self._send(calls.list_jobs(status, limit=limit, offset=offset,
                                                tenant=tenant, cursor=cursor, **filters))

    async def dlq(self, *, limit: int = 20, offset: int = 0,
                  cursor: UUID | str | None = None, **filters: SearchValue) -> JobList:
        return await self._send(calls.dlq(limit=limit, offset=offset, cursor=cursor,
                                          **filters))

    async def retry(self, job_id: UUID | str) -> JobOut:
        return await self._send(calls.retry(job_id))

    async def cancel(self, job_id: UUID | str) -> JobOut:
        """`Client.cancel`."""
        return await self._send(calls.cancel(job_id))

    async def metrics(self) -> MetricsOut:
        return await self._send(calls.metrics())

    async def queues(self) -> builtins.list[QueueOut]:
        """Every queue's figures and pause state (`GET /queues`)."""
        return await self._send(calls.queues())

    async def pause_queue(self, name: str) -> QueueOut:
        """Stop workers from starting the queue's jobs; running ones finish."""
        return await self._send(calls.pause_queue(name))

    async def resume_queue(self, name: str) -> QueueOut:
        return await self._send(calls.resume_queue(name))

    async def tenants(self) -> builtins.list[TenantOut]:
        """Every tenant with a setting or live jobs (`GET /tenants`)."""
        return await self._send(calls.tenants())

    async def tenant(self, name: str) -> TenantOut:
        """One tenant's settings and live jobs (any name: the defaults if none was set)."""
        return await self._send(calls.tenant(name))

    async def set_tenant(self, name: str, *, weight: int | None = None,
                   max_running: int | None = None,
                   rate_per_minute: int | None = None) -> TenantOut:
        """Replace the tenant's settings (`PUT /tenants/{name}`): one left None goes back
        to the default (weight 1, no cap, RATE_LIMIT_PER_MINUTE)."""
        return await self._send(calls.set_tenant(name, weight=weight, max_running=max_running,
                                        rate_per_minute=rate_per_minute))

    async def redrive(
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
        """`Client.redrive`."""
        return await self._send(calls.redrive(
            task=task, queue=queue, tenant=tenant, error=error, failed_after=failed_after,
            failed_before=failed_before, dry_run=dry_run, limit=limit,
            rate_per_sec=rate_per_sec))

    async def schedules(self) -> builtins.list[ScheduleOut]:
        return await self._send(calls.schedules())

    async def enable_schedule(self, name: str) -> ScheduleOut:
        return await self._send(calls.set_schedule_enabled(name, True))

    async def disable_schedule(self, name: str) -> ScheduleOut:
        return await self._send(calls.set_schedule_enabled(name, False))

    async def create_key(self, *, role: str = "tenant", tenant: str | None = None,
                         name: str | None = None) -> KeyCreatedOut:
        return await self._send(calls.create_key(role, tenant, name))

    async def keys(self) -> builtins.list[KeyOut]:
        return await self._send(calls.keys())

    async def revoke_key(self, key_id: str) -> KeyOut:
        return await self._send(calls.revoke_key(key_id))

    async def wait(self, job_id: UUID | str, *, timeout: float = 60.0,
                   interval: float = 0.1) -> JobOut:
        """`Client.wait`: the final job, with its `result`; `TimeoutError` at `timeout`."""
        waiting = calls.Waiting(job_id, timeout, interval)
        while True:
            job = await self.get(job_id)
            pause = waiting.pause(job)
            if pause is None:
                return job
            await asyncio.sleep(pause)
