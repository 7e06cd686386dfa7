"""Routes for the dead-letter queue: listing it, and redriving it by filter.

A redrive is `POST /jobs/{id}/retry` for every failed job a filter matches, done by the
store in batches (`Store.redrive`); this module adds the pacing. With `rate_per_sec`, jobs
are created a tenth of a second's worth at a time, each batch no sooner than its turn
(`start + created / rate`), so the rate holds over any stretch of the call, and a call ends
within `PACED_CALL_SEC` (its `remaining` says what is left). Before it answers with jobs
left, it waits for the next batch's turn, so a caller that calls again at once (the CLI,
the dashboard) keeps the rate across calls too.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

from fastapi import APIRouter

from conveyor.api.deps import StoreDep, WriterDep, own_tenant
from conveyor.api.jobs import Limit, Offset, page_of
from conveyor.api.middleware import trace_id_var
from conveyor.api.openapi import error, errors
from conveyor.api.search import LISTING_REFUSAL, Cursor, ListingFilter, actor
from conveyor.logging import get_logger
from conveyor.models import JobStatus
from conveyor.store import rules
from conveyor.store.base import RedriveFilter, RedriveResult, Store
from conveyor.wire import (
    JobList,
    RedriveIn,
    RedrivenOut,
    RedriveOut,
    RedriveSkippedOut,
)

log = get_logger("conveyor.api")
router = APIRouter(tags=["dlq"])

PACED_CALL_SEC = 5.0
"""A paced redrive starts no batch later than this after the call began: an HTTP call must
answer well within a client's timeout, whatever the rate and the limit."""
BATCHES_PER_SEC = 10
"""A paced redrive creates `rate / BATCHES_PER_SEC` jobs at a time (at least one)."""


@router.get("/dlq", response_model=JobList,
            responses=errors(503) | error(422, LISTING_REFUSAL))
async def list_dlq(store: StoreDep, filter: ListingFilter, limit: Limit = 20,
                   offset: Offset = 0, cursor: Cursor = None) -> JobList:
    """The dead-letter queue: failed jobs, newest first, narrowed by every filter given (as
    `GET /jobs`); `last_error` is the reason (a tenant's key: its own tenant's)."""
    return await page_of(store, replace(filter, status=JobStatus.FAILED), limit, offset,
                         cursor)


@router.post("/dlq/redrive", response_model=RedriveOut, responses=errors(503))
async def redrive_dlq(body: RedriveIn, store: StoreDep, principal: WriterDep) -> RedriveOut:
    """Retry every failed job (not retried yet) that matches the filter, as
    `POST /jobs/{id}/retry` would, up to `limit` this call, oldest first: each original's
    history gets a `job_retried` event whose data says `redrive: true` and the filter.
    Only jobs that had failed when the call began (`as_of`) are taken. Cancelled jobs are
    not in the DLQ and are never taken. `dry_run` only counts. Loop until `remaining` is 0,
    with `failed_before` = the first answer's `as_of` (stop when a call redrives nothing:
    what is left is `skipped`)."""
    filter = RedriveFilter(task=body.task, queue=body.queue,
                           tenant=own_tenant(principal, body.tenant),
                           error=body.error, failed_after=body.failed_after,
                           failed_before=body.failed_before, payload=body.payload,
                           trace_id=body.trace_id,
                           ids=None if body.ids is None else frozenset(body.ids))
    who = actor(principal)
    if body.dry_run:
        result = await store.redrive(filter, body.limit, dry_run=True)
    elif body.rate_per_sec is None:
        result = await store.redrive(filter, body.limit, trace_id=trace_id_var.get(),
                                     actor=who)
    else:
        result = await _paced(store, filter, body.limit, body.rate_per_sec, who)
    if not body.dry_run:
        log.info("dlq_redriven", matched=result.matched, redriven=len(result.redriven),
                 skipped=len(result.skipped), remaining=result.remaining,
                 filter=filter.describe())
    return RedriveOut(
        matched=result.matched, counts_exact=result.exact, redriven=len(result.redriven),
        dry_run=body.dry_run,
        remaining=result.remaining, as_of=result.as_of,
        jobs=[RedrivenOut(id=r.id, retried_by=r.retried_by) for r in result.redriven],
        skipped=[RedriveSkippedOut(id=s.id, reason=s.reason) for s in result.skipped])


async def _paced(store: Store, filter: RedriveFilter, limit: int, rate: float, who: str
                 ) -> RedriveResult:
    """`store.redrive` a batch at a time, each batch at its turn (see the module's doc)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    batch = max(1, min(rules.REDRIVE_BATCH, math.floor(rate / BATCHES_PER_SEC)))
    trace_id = trace_id_var.get()
    size = min(batch, limit)
    result = await store.redrive(filter, size, trace_id=trace_id, actor=who)
    matched, as_of, exact = result.matched, result.as_of, result.exact
    filter = filter.failed_by(as_of)  # as one store call would: jobs failed by its start
    redriven, skipped = list(result.redriven), list(result.skipped)
    # Fewer than `size` redriven: the store ran out of jobs it can take.
    while result.remaining > 0 and len(result.redriven) == size:
        turn = started + len(redriven) / rate
        await asyncio.sleep(max(0.0, turn - loop.time()))
        if len(redriven) >= limit or turn - started > PACED_CALL_SEC:
            break  # at the next batch's turn: the caller's next call may start it
        size = min(batch, limit - len(redriven))
        result = await store.redrive(filter, size, after=result.last, trace_id=trace_id,
                                     actor=who)
        redriven += result.redriven
        skipped += result.skipped
    return RedriveResult(matched, redriven, skipped, result.remaining, result.last, as_of,
                         exact and result.exact)
