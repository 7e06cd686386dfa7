"""Group commit: concurrent single submits share one write transaction.

A store commit costs a WAL flush (an fsync) and, on PostgreSQL, a round trip and a turn of the
event-order lock, whatever it carries. Forty API requests submitting one job each at the same
moment would pay forty of them; here they pay one or two. Nothing waits to form a group: the
first submit of an idle store is written at once, and the submits that arrive while a write is
in flight are written together as soon as it returns (the same shape as the worker's outcome
flusher). So an idle producer sees no added latency and a busy one sees fewer, larger commits.

What each caller sees is unchanged: its `submit` returns only after the transaction holding its
job has committed, and it gets exactly the outcome it would have got alone, in arrival order:
its job, the replay of an earlier job with its idempotency key, or its own refusal (conflict,
rate limit) without affecting the others (the driver's `submit_each` decides each job in turn).
A failure of the write itself (the database is down) fails every submit of that group, and none
of their jobs was committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conveyor.models import NewJob, RateLimit, SubmitResult
from conveyor.store.rules import SubmitOutcome

WriteGroup = Callable[[list[NewJob], RateLimit | None], Awaitable[list[SubmitOutcome]]]

MAX_GROUP = 500
"""Submits per transaction at most: a bound on one commit's size and on its lock time."""


@dataclass(slots=True)
class _Waiting:
    job: NewJob
    rate: RateLimit | None
    answer: asyncio.Future[SubmitOutcome]


class GroupCommit:
    """Collects concurrent `submit`s of one event loop and writes them with `write_group`."""

    def __init__(self, write_group: WriteGroup, max_group: int = MAX_GROUP) -> None:
        self._write_group = write_group
        self._max_group = max_group
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, job: NewJob, rate: RateLimit | None) -> SubmitResult:
        answer: asyncio.Future[SubmitOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(job, rate, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="conveyor-group-commit")
        outcome = await answer
        if isinstance(outcome, SubmitResult):
            return outcome
        raise outcome

    async def _write_all(self) -> None:
        """Write groups until nobody waits. One group takes the oldest waiting submits that
        share its rate limit (all of them, in practice: the API has one)."""
        while self._waiting:
            rate = self._waiting[0].rate
            group: list[_Waiting] = []
            rest: list[_Waiting] = []
            for waiting in self._waiting:
                fits = waiting.rate == rate and len(group) < self._max_group
                (group if fits else rest).append(waiting)
            self._waiting = rest
            try:
                outcomes = await self._write_group([w.job for w in group], rate)
            except Exception as exc:
                for waiting in group:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(exc)
                continue
            except BaseException:  # cancelled (the loop is closing): nobody will write these
                for waiting in group + self._waiting:
                    waiting.answer.cancel()
                self._waiting = []
                raise
            for waiting, outcome in zip(group, outcomes, strict=True):
                if not waiting.answer.done():  # its caller may have given up (cancelled)
                    waiting.answer.set_result(outcome)
