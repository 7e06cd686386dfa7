"""The worker: lease → run → ack/fail, with heartbeats, rescue and a two-stage stop.

One asyncio loop runs up to `concurrency` jobs. It leases as many jobs as it has free slots
in one store call, wakes when a slot frees or the store reports a change (LISTEN/NOTIFY or
the event-sequence poll), and otherwise polls every WORKER_POLL_MS. Outcomes are written by
one flusher that batches whatever finished while the previous write was in flight (and, while
other handlers still run, during FLUSH_GATHER_SEC more), so a busy worker commits many
completions at once and an idle one commits each immediately.

A slot is free as soon as its handler returns: the next job starts while the outcome waits
for the flusher. Until its outcome is written the job is still held (heartbeats renew its
lease, a stop waits for the write), only no longer counted against `concurrency`.

Prefetch: when every slot is busy the worker may reserve a few jobs ahead (`Store.reserve`),
so a freed slot starts one at once instead of waiting for a lease round trip. A reserved job
stays `pending` to everyone looking (it has not started); the flusher writes its `start`
(running, `job_leased`) just after its handler begins, before any outcome of it. Heartbeats
renew reservations and a stop hands them back; a freed slot starts the oldest reservation,
or one of a tenant with nothing running here (fair dispatch). How many: WORKER_PREFETCH, or
by default about what the slots finish during four lease round trips, topped up once half of
it has started (so the look-ahead never runs below about two round trips' worth, and each
reservation takes several jobs), and none while jobs take less time than a round trip (then
the slots are not what waits).

Stopping a handler: a job's cancellation (learned from a heartbeat, or at once on PostgreSQL
by notification), its deadline (the job's `timeout_sec` or the task's `timeout`) or a lost
lease sets its context's `cancelled` flag and, for an async handler, cancels its task. A sync
handler cannot be interrupted: a cancelled one ends when its thread returns; a timed-out one
fails at its deadline and its thread is left to finish (its result discarded), still counted
against `concurrency` until it does, so stuck threads never outnumber the slots.

Idle, the worker sleeps until the earliest scheduled job of its queues is due (or a change
wakes it), so a job scheduled for a time starts at that time, not a poll later. Jobs due that
it cannot lease (their tenant at its cap) do not keep it leasing every few milliseconds: it
backs off to a few rounds a second, woken when they are freed (`idle_wait`).

Beside the jobs, every worker fires periodic schedules (`worker/schedules.py`); the store
makes each tick fire once however many workers do. Likewise each offers the dashboard's chart
sample of every minute (`worker/sampler.py`), which one of them writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import math
import os
import socket
import time
import traceback
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from conveyor import context as job_context
from conveyor.aio import wait_event
from conveyor.backoff import retry_delay
from conveyor.config import Settings
from conveyor.context import JobContext
from conveyor.errors import PermanentError, StoreUnavailable
from conveyor.logging import bind_context, get_logger
from conveyor.models import Ack, Fail, JobId, Lease, Outcome, Progress, Started
from conveyor.payloads import find_problem, safe_text
from conveyor.store.base import Store, WorkerInfo
from conveyor.store.rules import CANCELLED_ERROR, cap_traceback, is_last_attempt
from conveyor.submitting import scheduled
from conveyor.tasks import TaskDefinition, TaskRegistry
from conveyor.worker.retention import prune_history
from conveyor.worker.sampler import sample_charts
from conveyor.worker.schedules import run_schedules
from conveyor.worker.supervise import Outage, StoreRetry, supervised

log = get_logger("conveyor.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


STOP_AFTER_GRACE_SEC = 3.0
"""After SHUTDOWN_GRACE_SEC, how long a stopping worker may spend handing jobs back and
writing outcomes before it exits anyway (what it could not write, rescue covers)."""

FLUSH_GATHER_SEC = 0.002
"""While other handlers of the worker are still running, how long a write of outcomes waits
for more of them to finish and share its statement and commit (a worker with nothing else
running writes at once)."""

PROGRESS_INTERVAL_SEC = 0.5
"""How often a worker writes its handlers' latest progress reports (one write for all)."""
_DUE_MIN_SEC = 0.002
"""The shortest sleep until a scheduled job is due (its time may be a moment in the past),
and the first of the growing sleeps while due jobs are held back (`idle_wait`)."""
_HELD_BACK_MAX_SEC = 0.25
"""The longest of those sleeps: four idle rounds a second while a cap is full (`max_running`
0 holds a tenant's jobs back for good: its idle workers keep this pace)."""


@dataclass
class _Running:
    lease: Lease
    task: asyncio.Task[None]
    context: JobContext
    lost: bool = False
    finishing: bool = False  # its outcome is queued: never hand it back
    sync: bool = False  # runs on a thread, which cancelling cannot stop
    handling: bool = False  # its handler has begun (a task cancelled before it began
    # would never reach its own clean-up)
    cancel_requested: bool = False


class _TimedOut(Exception):
    """The attempt's deadline passed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Timed out after {seconds:g} s")


class _Average:
    """An exponentially weighted mean of recent durations (None before the first)."""

    def __init__(self, weight: float = 0.2) -> None:
        self.weight = weight
        self.value: float | None = None

    def observe(self, seconds: float) -> None:
        self.value = seconds if self.value is None else (
            self.value + self.weight * (seconds - self.value))


@dataclass
class _Completion:
    outcome: Outcome
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Worker:
    """Runs jobs from `queues` until `stop()`; `run()` returns when it has drained."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        tasks: TaskRegistry,
        *,
        queues: Sequence[str] = ("default",),
        concurrency: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.tasks = tasks
        self.queues = list(queues)
        self.concurrency = concurrency or settings.worker_concurrency
        self.id = worker_id or default_worker_id()
        self._running: dict[JobId, _Running] = {}
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._completions: list[_Completion] = []
        # Reserved jobs whose handlers began (and when, monotonic), for the flusher.
        self._starts: list[tuple[Lease, float]] = []
        self._completions_ready = asyncio.Event()
        self._reserved: deque[Lease] = deque()
        self._passed_over: set[JobId] = set()
        """Reservations another one has started ahead of (`_next_reserved`)."""
        self._runtime = _Average()
        self._lease_time = _Average()
        self._outage = Outage(log, self.id, lambda: [str(job_id) for job_id in self._running])
        self._store_retry = StoreRetry(log, self.id, self._outage)
        self._renewed: dict[JobId, float] = {}
        """Per held job (running or reserved), the monotonic time its last successful
        renewal was sent: the store's expiry is at least that plus the lease time."""
        self._stop_by: float | None = None
        """Monotonic deadline of a stop in progress (grace plus STOP_AFTER_GRACE_SEC)."""
        self._stuck = 0
        """Threads of timed-out sync handlers still running (they hold a slot each)."""
        # Sync handlers run here: a thread per slot, so none waits for another's. The worker's
        # own pool, not the loop's default executor, which belongs to whoever runs the loop.
        self._threads = ThreadPoolExecutor(self.concurrency + 2, "conveyor-task")
        # Checked here, so a declared schedule its task refuses stops the worker at start.
        self._schedules = [scheduled(spec, tasks) for spec in tasks.schedules()]

    @property
    def busy_slots(self) -> int:
        """Jobs whose handler has not returned yet (a finished one waits for its write)."""
        return sum(1 for entry in self._running.values() if not entry.finishing)

    @property
    def free_slots(self) -> int:
        return self.concurrency - self.busy_slots - self._stuck

    def stop(self) -> None:
        """Stop leasing; running jobs get SHUTDOWN_GRACE_SEC to finish, then are handed back."""
        self._stopping.set()
        self._wakeup.set()  # the lease loop waits for this alone

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            # Do not wait here for a sync handler that is still running (its lease expires and
            # rescue covers it); the interpreter still joins the thread when the process exits.
            self._threads.shutdown(wait=False)

    async def _run(self) -> None:
        await self._store_retry.call(
            lambda: self.store.register_worker(
                WorkerInfo(self.id, socket.gethostname(), os.getpid(), self.queues,
                           self.concurrency)
            ),
            self._stopping,
        )
        log.info("worker_start", worker=self.id, queues=self.queues,
                 concurrency=self.concurrency, message="worker started")
        self.store.on_cancel(self._cancellation_requested)
        async with supervised(self._flusher(), self._heartbeats(), self._rescuer(),
                              self._watch_store(), self._progress_writer(), self._fence(),
                              prune_history(self.store, self.settings, self.id),
                              sample_charts(self.store, self.settings, self.id),
                              run_schedules(self.store, self._schedules,
                                            self.settings.max_retries, self.id,
                                            self._outage)):
            await self._lease_loop()
            await self._drain()
        if not self._outage.down:
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(self._time_to_stop()):
                    await self.store.unregister_worker(self.id)
        log.info("worker_stop", worker=self.id, message="worker stopped")

    async def _lease_loop(self) -> None:
        poll = self.settings.worker_poll_ms / 1000
        held_back = _DUE_MIN_SEC  # the next sleep while due jobs lease nothing (`idle_wait`)
        while not self._stopping.is_set():
            self._wakeup.clear()  # before leasing, so a wake-up during the lease is not lost
            self._start_reserved()
            called = False  # whether the store answered a call this round
            try:
                wait = poll
                if self.free_slots > 0:
                    called = True
                    sent = time.monotonic()
                    leases = await self._timed(self.store.lease(
                        self.id, self.queues, self.free_slots, self.settings.lease_timeout_sec))
                    for lease in leases:
                        self._renewed[lease.job_id] = sent
                        self._start(lease)
                    if leases:
                        # The handlers just started take their first step before the next
                        # round trip: sending it wakes the database's backend, which on a
                        # small machine takes this process's core for a millisecond.
                        await asyncio.sleep(0)
                        if self.free_slots > 0:
                            continue  # there may be more waiting
                    else:  # idle: sleep until the next scheduled job is due
                        due = await self.store.next_due(self.queues)
                        # Of the jobs coming due since the lease was sent, not only from now:
                        # one that came due meanwhile is retried at once, not a back-off later.
                        later = (await self.store.next_due(
                                     self.queues, later_than=sent - time.monotonic())
                                 if due is not None and due <= 0 else None)
                        wait, held_back = idle_wait(due, later, held_back, poll)
                ahead = self._to_reserve()
                if self.free_slots == 0 and ahead > 0:  # every slot busy: hold some ahead
                    called = True
                    sent = time.monotonic()
                    reserved = await self._timed(self.store.reserve(
                        self.id, self.queues, ahead, self.settings.lease_timeout_sec))
                    for lease in reserved:
                        self._renewed[lease.job_id] = sent
                    self._reserved.extend(reserved)
                if called:
                    self._store_retry.succeeded()
            except StoreUnavailable as exc:
                await self._store_retry.failed(exc, self._stopping)
                continue
            if self.free_slots > 0 and self._reserved:
                continue  # a slot freed meanwhile
            if await wait_event(self._wakeup, wait):  # a freed slot, a change, or stop()
                held_back = _DUE_MIN_SEC  # something changed: short sleeps again

    @property
    def prefetch(self) -> int:
        """How many jobs to hold ahead of a free slot (see the module docstring)."""
        return look_ahead(self.settings.worker_prefetch, self.concurrency,
                          self._runtime.value, self._lease_time.value)

    def _to_reserve(self) -> int:
        return to_reserve(self.prefetch, len(self._reserved),
                          sized=self.settings.worker_prefetch < 0)

    async def _timed(self, call: Awaitable[list[Lease]]) -> list[Lease]:
        began = time.monotonic()
        leases = await call
        self._lease_time.observe(time.monotonic() - began)
        return leases

    def _start_reserved(self) -> None:
        """Fill free slots from the reserved jobs at once: called wherever a slot frees, not
        only by the lease loop, which may be waiting for a lease or reservation round trip."""
        while self.free_slots > 0 and self._reserved and not self._stopping.is_set():
            lease = self._next_reserved()
            if self._expiring(lease.job_id, time.monotonic()):
                self._renewed.pop(lease.job_id, None)  # it may be someone else's by now
                continue
            self._start(lease, reserved=True)

    def _next_reserved(self) -> Lease:
        return next_reserved(self._reserved, self._passed_over, lambda: {
            entry.lease.tenant for entry in self._running.values() if not entry.finishing})

    def _start(self, lease: Lease, *, reserved: bool = False) -> None:
        task = asyncio.create_task(self._execute(lease), name=f"job-{lease.job_id}")
        self._running[lease.job_id] = _Running(lease, task, JobContext.of(lease))
        if reserved:  # the flusher records that it began, before any outcome of it
            self._starts.append((lease, time.monotonic()))
            self._completions_ready.set()

    async def _execute(self, lease: Lease) -> None:
        with bind_context(jobId=str(lease.job_id), traceId=lease.trace_id, worker=self.id,
                          tenant=lease.tenant):
            started = time.monotonic()
            log.debug("job_started", task=lease.task, attempt=lease.attempt)
            outcome: Outcome
            try:
                outcome = await self._run_handler(lease)
            except BaseException:
                self._forget(lease)
                raise
            elapsed = round(time.monotonic() - started, 6)
            self._runtime.observe(elapsed)
            entry = self._running.get(lease.job_id)
            if entry is not None and entry.lost:  # `job_lease_lost` was logged when it was
                log.info("job_outcome_discarded", elapsed=elapsed,
                         message="the lease was lost while it ran")
                self._forget(lease)
                return
            if entry is not None:
                entry.finishing = True  # its slot is free from here on
            completion = _Completion(outcome)
            self._completions.append(completion)
            self._completions_ready.set()
            self._start_reserved()
            self._wakeup.set()
            try:
                # Shielded: a stop that cancels this task must not lose a finished outcome.
                applied = await asyncio.shield(completion.done)
            finally:
                self._forget(lease)
            _log_outcome(outcome, applied, elapsed)

    def _forget(self, lease: Lease) -> None:
        """Stop holding `lease` (not a later lease of the same job, which a retry can bring
        while this one's outcome is being answered) and wake the lease loop."""
        entry = self._running.get(lease.job_id)
        if entry is not None and entry.lease.token == lease.token:
            del self._running[lease.job_id]
            self._renewed.pop(lease.job_id, None)
        self._start_reserved()
        self._wakeup.set()

    async def _run_handler(self, lease: Lease) -> Outcome:
        """Run the task and turn what happened into an outcome the store can always write."""
        entry = self._running[lease.job_id]
        entry.handling = True
        token = job_context.enter(entry.context)
        try:
            definition = self.tasks.get(lease.task)
            entry.sync = not definition.is_async
            timeout = lease.timeout_sec or definition.timeout
            if entry.cancel_requested:  # asked before the handler began
                return _cancelled(lease)
            if entry.sync:
                result = await self._run_sync(definition, entry, timeout)
            else:
                result = await self._run_async(definition, entry, timeout)
            if entry.cancel_requested:  # it returned after the worker asked it to stop
                return _cancelled(lease)
            check_result(result)
            return Ack(lease, result)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if entry.cancel_requested or entry.lost:  # we stopped the handler
                if task is not None:
                    task.uncancel()
                return _cancelled(lease)
            if task is not None and task.cancelling():
                raise  # we were cancelled (shutdown): the lease is handed back
            return self._failure(lease, "the handler raised CancelledError", None)
        except _TimedOut as exc:
            if entry.cancel_requested:
                return _cancelled(lease)
            return Fail(lease, str(exc), retry_in_sec=self._retry_delay(lease),
                        error_type="TimeoutError")
        except PermanentError as exc:
            return self._failure(lease, exc.message or type(exc).__name__, exc, permanent=True)
        except ResultNotJSON as exc:
            return self._failure(lease, str(exc), exc, permanent=True)
        except Exception as exc:
            if entry.cancel_requested:
                return _cancelled(lease)
            return self._failure(lease, str(exc) or type(exc).__name__, exc)
        finally:
            job_context.leave(token)

    async def _run_async(
        self, definition: TaskDefinition, entry: _Running, timeout: float | None
    ) -> object:
        if timeout is None:  # no deadline: no scope to enter (this is the per-job hot path)
            return await definition.call(entry.lease.payload, entry.context)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await definition.call(entry.lease.payload, entry.context)
        except TimeoutError:
            if deadline.expired():
                entry.context.stop()
                raise _TimedOut(timeout or 0.0) from None
            raise

    async def _run_sync(
        self, definition: TaskDefinition, entry: _Running, timeout: float | None
    ) -> object:
        """On the worker's threads, with this context (so `current_job()` works there). At
        the deadline the attempt fails; the thread is left to finish, counted as stuck."""
        call = contextvars.copy_context().run
        running = self._threads.submit(call, definition.call, entry.lease.payload,
                                       entry.context)
        result = asyncio.wrap_future(running)
        done, _ = await asyncio.wait({result}, timeout=timeout)
        if done:
            return result.result()
        entry.context.stop()
        self._stuck += 1
        loop = asyncio.get_running_loop()
        running.add_done_callback(lambda _: loop.call_soon_threadsafe(self._unstick))
        result.add_done_callback(_ignore_result)
        log.warning("handler_abandoned", timeout=timeout, message="a sync handler ran past its "
                    "deadline; its thread is left to finish and its result discarded")
        raise _TimedOut(timeout or 0.0)

    def _unstick(self) -> None:
        self._stuck -= 1
        self._start_reserved()
        self._wakeup.set()

    def _failure(self, lease: Lease, message: str, exc: BaseException | None, *,
                 permanent: bool = False) -> Fail:
        """A failed attempt with its evidence: the short message (`last_error`), and the
        exception's type and traceback for the attempt's event."""
        return Fail(
            lease, safe_text(message),
            retry_in_sec=0.0 if permanent else self._retry_delay(lease),
            permanent=permanent,
            error_type=None if exc is None else type(exc).__name__,
            traceback=None if exc is None else safe_text(cap_traceback(
                "".join(traceback.format_exception(exc)))),
        )

    def _cancellation_requested(self, job_id: JobId) -> None:
        """The store says this job's cancellation was requested (a notification or a
        heartbeat's answer): stop its handler."""
        entry = self._running.get(job_id)
        if entry is None or entry.cancel_requested or entry.finishing:
            return
        entry.cancel_requested = True
        with bind_context(jobId=str(job_id), traceId=entry.lease.trace_id):
            log.info("job_cancelling", worker=self.id, message="cancellation requested; "
                     "stopping the handler")
        self._stop_handler(entry)

    def _stop_handler(self, entry: _Running) -> None:
        entry.context.stop()
        if entry.handling and not entry.sync and not entry.finishing and not entry.task.done():
            entry.task.cancel()

    def _retry_delay(self, lease: Lease) -> float:
        return retry_delay(lease.attempt, self.settings.retry_backoff_base_sec,
                           self.settings.retry_backoff_max_sec)

    async def _flusher(self) -> None:
        """Writes what finished (and the starts of reserved jobs that began) since the last
        write, in one transaction: starts before the outcomes of the same jobs. A start that
        rides with outcomes and finds its reservation lost is refused silently; its outcome
        is then refused too, or the next heartbeat finds the job lost."""
        lease_for = self.settings.lease_timeout_sec
        while True:
            await self._completions_ready.wait()
            if self._completions and self.busy_slots and not self._stopping.is_set():
                # Handlers still running will finish soon: their outcomes join this write.
                await asyncio.sleep(FLUSH_GATHER_SEC)
            self._completions_ready.clear()
            starts, self._starts = self._starts, []
            batch, self._completions = self._completions, []
            now = time.monotonic()
            started = [Started(lease, now - began) for lease, began in starts]
            if not batch:  # starts alone: their answer tells which reservations were lost
                if started:
                    sent = time.monotonic()
                    held = await self._store_retry.call(
                        functools.partial(self.store.start, started, lease_for), None)
                    for one in started:
                        if one.lease.job_id not in held:
                            self._lose(one.lease, "reservation lost before its job started")
                        elif one.lease.job_id in self._renewed:
                            self._renewed[one.lease.job_id] = sent
                continue
            outcomes = [completion.outcome for completion in batch]
            applied = await self._store_retry.call(
                functools.partial(self.store.finish, outcomes, self.id, started, lease_for),
                None,
            )
            for completion, ok in zip(batch, applied, strict=True):
                if not completion.done.done():
                    completion.done.set_result(ok)

    def _lose(self, lease: Lease, why: str) -> None:
        """Another worker may run this job now: its outcome here will be discarded."""
        entry = self._running.get(lease.job_id)
        if (entry is None or entry.lease.token != lease.token or entry.task.done()
                or entry.finishing  # a finished one's outcome is refused, and logged, anyway
                or entry.lost):  # said once
            return
        entry.lost = True
        self._stop_handler(entry)
        with bind_context(jobId=str(lease.job_id), traceId=lease.trace_id):
            log.warning("job_lease_lost", worker=self.id, message=why)

    async def _heartbeats(self) -> None:
        interval = self.settings.heartbeat_interval_sec
        while True:
            await asyncio.sleep(interval)
            entries = list(self._running.values())
            reserved = list(self._reserved)
            sent = time.monotonic()
            try:
                held = await self.store.heartbeat(
                    [entry.lease for entry in entries] + reserved,
                    self.settings.lease_timeout_sec,
                )
                await self.store.worker_seen(self.id, self.busy_slots)
            except StoreUnavailable as exc:
                self._outage.failed(exc)
                continue
            self._outage.answered()
            for job_id in held:
                if job_id in self._renewed:
                    self._renewed[job_id] = sent
            for entry in entries:
                if entry.lease.job_id not in held:
                    self._lose(entry.lease, "another worker may run this job now")
                elif entry.lease.job_id in held.cancelling:
                    self._cancellation_requested(entry.lease.job_id)
            lost = {lease.job_id for lease in reserved if lease.job_id not in held}
            if lost:
                self._reserved = deque(r for r in self._reserved if r.job_id not in lost)
                for job_id in lost:
                    self._renewed.pop(job_id, None)

    @property
    def _fence_after_sec(self) -> float:
        """How long a held job may go without a renewal before this worker gives it up: half
        a heartbeat interval before the lease could expire (and be rescued elsewhere)."""
        return self.settings.lease_timeout_sec - self.settings.heartbeat_interval_sec / 2

    def _expiring(self, job_id: JobId, now: float) -> bool:
        renewed = self._renewed.get(job_id)
        return renewed is not None and now - renewed > self._fence_after_sec

    async def _fence(self) -> None:
        """Self-fencing: a job whose lease this worker could not renew in time is stopped
        (and its outcome discarded) before the store can expire the lease and another worker
        start it, measured on this worker's own clock from the last renewal it sent. The
        bound: none of its handlers runs past `lease - heartbeat/2` seconds after that
        renewal (an async one is cancelled; a sync one is told by `context.cancelled`), while
        another worker can start the job only after the full lease, and rescue, have passed;
        only a clock running more than a sixth fast or slow could close that gap."""
        tick = max(0.02, min(0.25, self.settings.heartbeat_interval_sec / 8))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for entry in list(self._running.values()):
                if not entry.finishing and self._expiring(entry.lease.job_id, now):
                    self._lose(entry.lease, "its lease could not be renewed in time (store "
                               "unreachable): stopped before it can expire and run elsewhere")
            stale = {lease.job_id for lease in self._reserved
                     if self._expiring(lease.job_id, now)}
            if stale:
                self._reserved = deque(r for r in self._reserved if r.job_id not in stale)
                for job_id in stale:
                    self._renewed.pop(job_id, None)

    async def _progress_writer(self) -> None:
        """Writes the handlers' latest progress reports, all in one call, at most every
        PROGRESS_INTERVAL_SEC: a handler reporting in a tight loop costs the store nothing
        more."""
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_SEC)
            reports = []
            for entry in list(self._running.values()):
                report = None if entry.finishing else entry.context.take_report()
                if report is not None:
                    reports.append(Progress(entry.lease, *report))
            if reports:
                with contextlib.suppress(StoreUnavailable):  # the next report replaces it
                    await self.store.progress(reports)

    async def _rescuer(self) -> None:
        interval = max(0.2, min(self.settings.lease_timeout_sec / 2, 30.0))
        while True:
            try:
                for job_id in await self.store.rescue():
                    log.warning("job_lease_expired", jobId=str(job_id), worker=self.id,
                                message="lease expired; job requeued or dead-lettered")
            except StoreUnavailable as exc:
                self._outage.failed(exc)
            await asyncio.sleep(interval)

    async def _watch_store(self) -> None:
        """Wake the lease loop when the store reports work that may be leasable (new jobs,
        retries, a resumed queue…), not on every event."""
        mark = -1
        timeout = self.settings.worker_poll_ms / 1000
        while True:
            try:
                latest = await self.store.wait_for_work(max(mark, 0), timeout)
            except StoreUnavailable:
                await asyncio.sleep(timeout)
                continue
            if latest != mark:
                mark = latest
                self._wakeup.set()

    def _time_to_stop(self) -> float:
        """Seconds left of a stop in progress (at least a moment, to try a last write)."""
        if self._stop_by is None:
            return self.settings.store_timeout_sec or 10.0
        return max(0.05, self._stop_by - time.monotonic())

    async def _hand_back(self, leases: list[Lease], otherwise: str) -> bool:
        """Release `leases` within the stop's time left, unless the store is known to be
        away (then at once: their leases expire and rescue covers them). Whether it did."""
        if not leases:
            return True
        if self._outage.down:
            log.warning("release_skipped", worker=self.id, count=len(leases),
                        message=f"store unreachable; {otherwise}")
            return False
        try:
            async with asyncio.timeout(self._time_to_stop()):
                await self.store.release(leases)
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning("release_failed", worker=self.id, error=str(exc) or "no answer",
                        message=otherwise)
            return False
        return True

    async def _drain(self) -> None:
        """Hand reservations back at once; let running jobs finish within the grace period,
        then hand the rest back. Bounded: the whole stop takes at most SHUTDOWN_GRACE_SEC
        plus STOP_AFTER_GRACE_SEC, store outage or not."""
        grace = self.settings.shutdown_grace_sec
        self._stop_by = time.monotonic() + grace + STOP_AFTER_GRACE_SEC
        if self._reserved:
            reserved, self._reserved = list(self._reserved), deque()
            await self._hand_back(reserved, "reservations will expire and be freed")
        tasks = [entry.task for entry in self._running.values()]
        if tasks:
            log.info("worker_draining", worker=self.id, running=len(tasks), grace=grace)
            await asyncio.wait(tasks, timeout=max(0.0, min(grace, self._time_to_stop())))
        leftovers = [
            entry for entry in self._running.values()
            if not entry.task.done() and not entry.finishing
        ]
        for entry in leftovers:
            entry.task.cancel()
        if leftovers:
            await asyncio.wait([entry.task for entry in leftovers],
                               timeout=min(5.0, self._time_to_stop()))
            # A sync handler's thread runs on after the cancel: handing its job back would let
            # another worker run it alongside. Its lease expires instead and rescue retries it.
            still_running = [entry.lease.job_id for entry in leftovers if entry.sync]
            if still_running:
                log.warning("jobs_left_to_expire", worker=self.id, count=len(still_running),
                            message="sync handlers cannot be interrupted; their leases expire")
            released = [entry.lease for entry in leftovers if not entry.sync]
            if await self._hand_back(released, "leases will expire and be rescued"):
                for lease in released:
                    log.info("job_released", jobId=str(lease.job_id), traceId=lease.trace_id,
                             worker=self.id)
        # Jobs that finished are waiting for the flusher to write their outcomes; bounded, so
        # a stop during a store outage ends (the leases expire and rescue covers them).
        finishing = [entry.task for entry in self._running.values() if not entry.task.done()]
        if finishing:
            _, pending = await asyncio.wait(finishing, timeout=self._time_to_stop())
            if pending:
                log.warning("outcomes_abandoned", worker=self.id, count=len(pending),
                            message="store unreachable at shutdown; leases will expire")


def look_ahead(setting: int, concurrency: int, runtime: float | None,
               lease_time: float | None) -> int:
    """The jobs to hold ahead of a free slot: WORKER_PREFETCH when given (`setting` >= 0),
    else about what the slots finish during four lease round trips, from the running averages
    of a job's and a lease's time (at most the slot count), and none while jobs take less
    than a round trip or before either average is known."""
    if setting >= 0:
        return setting
    if runtime is None or lease_time is None or runtime < lease_time:
        return 0
    return min(concurrency, math.ceil(4 * concurrency * lease_time / runtime))


def idle_wait(due: float | None, later: float | None, held_back: float,
              poll: float) -> tuple[float, float]:
    """How long a worker whose lease took nothing sleeps (unless woken), and the sleep after
    that if the same happens again (the loop starts it over when it is woken). `due`:
    seconds until the queues' next pending job is due (`Store.next_due`; None: none is);
    `later`: the same of the jobs coming due since the lease was sent, asked only when `due`
    is past (zero or less: one came due meanwhile).

    A job due later: sleep until then. A job due already that the lease did not take is held
    back: its tenant is at its `max_running`, or another worker holds it reserved, both freed
    by changes that wake the workers as work (a capped tenant's job ending, a reservation
    handed back or expired, a cap raised), or, for a moment, another lease had its row
    locked, which the first short sleeps cover. So the sleeps double from `_DUE_MIN_SEC` to
    `_HELD_BACK_MAX_SEC` instead of leasing again every two milliseconds for as long as a cap
    is full; never past the next job coming due (`later`)."""
    if due is None:
        return poll, _DUE_MIN_SEC
    if due > 0:
        return min(poll, max(_DUE_MIN_SEC, due)), _DUE_MIN_SEC
    wait = min(poll, held_back, poll if later is None else max(_DUE_MIN_SEC, later))
    return wait, min(poll, _HELD_BACK_MAX_SEC, 2 * held_back)


def to_reserve(look_ahead: int, held: int, *, sized: bool) -> int:
    """How many jobs to reserve now, holding `held`. A look-ahead the worker `sized` itself
    is topped up once half of it has started, so one round trip reserves several jobs instead
    of one per freed slot (a reservation costs the worker and the database about as much as a
    short job); a WORKER_PREFETCH given is held in full, topped up at every start."""
    if sized and held > look_ahead // 2:
        return 0
    return max(0, look_ahead - held)


def next_reserved(reserved: deque[Lease], passed_over: set[JobId],
                  busy: Callable[[], set[str]]) -> Lease:
    """Take the reserved job to start next from `reserved` (oldest first): the oldest, unless
    a tenant not in `busy()` (nothing running on this worker) has a later one. The store
    reserves fairly, but a tenant's first job can only be reserved behind the others' already
    held; this lets it start at the next free slot instead of after them (fair dispatch's
    "next lease round"). Each reservation is passed over at most once (`passed_over` keeps
    which were), so none starts more than one start later than in arrival order, however the
    tenants' jobs come and go. Entries of `passed_over` no longer reserved (lost, handed back)
    are dropped here, so callers only ever remove leases from `reserved`."""
    if passed_over:
        passed_over.intersection_update(r.job_id for r in reserved)
    first = reserved[0]
    if first.job_id not in passed_over and any(r.tenant != first.tenant for r in reserved):
        running = busy()
        for index, lease in enumerate(reserved):
            if lease.job_id in passed_over or lease.tenant not in running:
                if index and lease.job_id not in passed_over:
                    passed_over.update(r.job_id for r in itertools.islice(reserved, index))
                    del reserved[index]
                    return lease
                break
    lease = reserved.popleft()
    passed_over.discard(lease.job_id)
    return lease


def _cancelled(lease: Lease) -> Fail:
    """The outcome of an attempt stopped by its job's cancellation: the job ends cancelled."""
    return Fail(lease, CANCELLED_ERROR, permanent=True, cancelled=True)


def _ignore_result(future: asyncio.Future[object]) -> None:
    """An abandoned handler's result (or exception) is discarded, not logged as unretrieved."""
    if not future.cancelled():
        future.exception()


class ResultNotJSON(Exception):
    """The handler returned something the store cannot hold (see `conveyor.payloads`)."""


def check_result(result: object) -> None:
    """Reject results the store cannot write before they reach the batched flush, where one
    bad result would fail every outcome written with it."""
    problem = find_problem(result)
    if problem is not None:
        raise ResultNotJSON(f"the handler's result is not storable JSON: result{problem}")


def _log_outcome(outcome: Outcome, applied: bool, elapsed: float) -> None:
    if not applied:
        log.warning("job_outcome_refused", elapsed=elapsed,
                    message="lease was lost before the outcome was written")
    elif isinstance(outcome, Ack):
        log.info("job_succeeded", elapsed=elapsed)
    elif outcome.cancelled:
        log.info("job_cancelled", elapsed=elapsed, attempt=outcome.lease.attempt)
    elif is_last_attempt(outcome.lease.attempt, outcome.lease.max_retries, outcome.permanent):
        log.warning("job_failed", elapsed=elapsed, error=outcome.error,
                    attempt=outcome.lease.attempt, message="moved to the DLQ")
    else:
        log.info("job_retry_scheduled", elapsed=elapsed, error=outcome.error,
                 attempt=outcome.lease.attempt, retry_in=round(outcome.retry_in_sec, 3))
