"""The handler's view of its job: `JobContext`, given as a second parameter to a handler that
takes one, and returned by `current_job()` anywhere inside a running handler (its thread
too, for sync handlers).

A context carries who the job is (id, attempt, tenant, queue, trace id), whether it should
stop (`cancelled`: its cancellation was requested, its deadline passed, or its lease was
lost), and `progress()`, which the worker records on the job at most twice a second however
often it is called, so a tight loop can report freely.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field

from conveyor.models import JobId, Lease


@dataclass(eq=False)
class JobContext:
    """One attempt of one job, as its handler sees it."""

    job_id: JobId
    attempt: int
    """1 for the first run, 2 for the first retry…"""
    max_retries: int
    tenant: str
    queue: str
    task: str
    trace_id: str | None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _report: tuple[float, str | None] | None = field(default=None, repr=False)
    _reported: tuple[float, str | None] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, lease: Lease) -> JobContext:
        return cls(lease.job_id, lease.attempt, lease.max_retries, lease.tenant, lease.queue,
                   lease.task, lease.trace_id)

    @property
    def cancelled(self) -> bool:
        """True once the handler should stop: the job's cancellation was requested, its
        timeout passed or its lease was lost. An async handler is also cancelled (it gets
        `asyncio.CancelledError`); a sync one cannot be interrupted, so it should look here
        between steps and return. Whatever it returns then, the attempt ends cancelled (or
        timed out, or is discarded)."""
        return self._stop.is_set()

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (a sync handler's thread) until `cancelled` or `timeout`; its value."""
        return self._stop.wait(timeout)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the handler is, `fraction` from 0 to 1 (clamped), with an optional
        short message; shown on the job in the API and the dashboard. Cheap: only the latest
        report is kept, and the worker writes it at most twice a second."""
        self._report = (float(fraction), message)

    # -- the worker's side ------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def take_report(self) -> tuple[float, str | None] | None:
        """The latest report not yet written, if any (one assignment is atomic, so a report
        from a handler thread is never half read)."""
        report = self._report
        if report is None or report == self._reported:
            return None
        self._reported = report
        return report


_current: contextvars.ContextVar[JobContext] = contextvars.ContextVar("conveyor_job")


def current_job() -> JobContext:
    """The context of the job whose handler is running here; raises `RuntimeError` outside
    of one."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_job() is only available inside a running job") from None


def enter(context: JobContext) -> contextvars.Token[JobContext]:
    """Make `context` current (the worker, around a handler)."""
    return _current.set(context)


def leave(token: contextvars.Token[JobContext]) -> None:
    _current.reset(token)
