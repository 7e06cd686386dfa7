"""`conveyor.Client`: a small typed client for the REST API.

    from conveyor import Client
    with Client("http://127.0.0.1:8000", api_key=None, tenant="acme") as client:
        job = client.enqueue("send_email", {"to": "a@example.com"}, idempotency_key="mail-42")
        done = client.wait(job.id, timeout=30)

Errors come back as `ClientError` with the API's error code, message and status.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from conveyor.errors import ConveyorError
from conveyor.lifecycle import TERMINAL_STATUSES as _TERMINAL
from conveyor.lifecycle import JobStatus
from conveyor.wire import JobList, JobOut, MetricsOut


class ClientError(ConveyorError):
    """The API answered with an error."""

    def __init__(self, status: int, code: str, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


class Client:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        tenant: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {}
        if api_key:
            headers["X-API-Key"] = api_key
        if tenant:
            headers["X-Tenant-Id"] = tenant
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout,
                                  transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "error", "message": response.text[:200]}
            raise ClientError(response.status_code, error.get("code", "error"),
                              error.get("message", ""), error.get("retry_after"))
        return response

    def enqueue(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        queue: str = "default",
        priority: int = 0,
        max_retries: int | None = None,
        delay_sec: float = 0.0,
        run_at: datetime | None = None,
        timeout: float | None = None,
    ) -> JobOut:
        """Submit a job for the task registered under `task` in the workers. `run_at`: not
        before this moment (timezone-aware; instead of `delay_sec`); `timeout`: seconds each
        attempt may run (overrides the task's own)."""
        body: dict[str, Any] = {"task": task, "payload": payload or {}, "queue": queue,
                                "priority": priority, "delay_sec": delay_sec}
        if max_retries is not None:
            body["max_retries"] = max_retries
        if run_at is not None:
            if run_at.tzinfo is None:
                raise ValueError("run_at must be timezone-aware (e.g. datetime.now(UTC))")
            body["run_at"] = run_at.isoformat()
        if timeout is not None:
            body["timeout_sec"] = timeout
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return JobOut.model_validate(self._request("POST", "/jobs", json=body,
                                                   headers=headers).json())

    def submit_text(self, text: str, *, idempotency_key: str | None = None) -> JobOut:
        """SEED.md's text job: 1 second per character."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return JobOut.model_validate(
            self._request("POST", "/jobs", json={"text": text}, headers=headers).json()
        )

    def get(self, job_id: UUID | str, *, history: bool = False) -> JobOut:
        params = {"history": "true"} if history else {}
        return JobOut.model_validate(self._request("GET", f"/jobs/{job_id}",
                                                   params=params).json())

    def list(self, status: JobStatus | str | None = None, *, limit: int = 20,
             offset: int = 0) -> JobList:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = JobStatus(status).value
        return JobList.model_validate(self._request("GET", "/jobs", params=params).json())

    def dlq(self, *, limit: int = 20, offset: int = 0) -> JobList:
        return JobList.model_validate(
            self._request("GET", "/dlq", params={"limit": limit, "offset": offset}).json()
        )

    def retry(self, job_id: UUID | str) -> JobOut:
        return JobOut.model_validate(self._request("POST", f"/jobs/{job_id}/retry").json())

    def cancel(self, job_id: UUID | str) -> JobOut:
        """Cancel a job: a pending one is `cancelled` at once; a running one is asked to stop
        (its `cancel_requested_at` is set, and it ends `cancelled` shortly, unless its handler
        finished first). A finished job raises `ClientError` with status 409."""
        return JobOut.model_validate(self._request("POST", f"/jobs/{job_id}/cancel").json())

    def metrics(self) -> MetricsOut:
        return MetricsOut.model_validate(
            self._request("GET", "/metrics", headers={"Accept": "application/json"}).json()
        )

    def wait(self, job_id: UUID | str, *, timeout: float = 60.0,
             interval: float = 0.1) -> JobOut:
        """Poll until the job is done, failed or cancelled; raises TimeoutError at the
        deadline."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status in _TERMINAL:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.status.value} after {timeout}s")
            time.sleep(interval)
