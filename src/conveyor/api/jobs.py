"""Routes for jobs: submit (single and batch), read, list, cancel and retry (the DLQ's
routes are `dlq.py`'s)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from conveyor.api.deps import (
    IdempotencyKeyDep,
    PrincipalDep,
    SettingsDep,
    StoreDep,
    TasksDep,
    TenantDep,
    WriterDep,
    visible,
)
from conveyor.api.middleware import trace_id_var
from conveyor.api.openapi import error, errors
from conveyor.api.search import LISTING_REFUSAL, Cursor, ListingFilter, actor, bulk_filter
from conveyor.api.submission import to_new_job
from conveyor.config import Settings
from conveyor.logging import get_logger
from conveyor.models import JobStatus, SubmitResult
from conveyor.store.base import Store
from conveyor.store.search import JobFilter
from conveyor.tasks import TaskRegistry
from conveyor.tenancy import rate_for
from conveyor.wire import (
    BatchOut,
    BulkCancelIn,
    BulkCancelOut,
    JobList,
    JobOut,
    SubmitBatch,
    SubmitJob,
)

log = get_logger("conveyor.api")
router = APIRouter(tags=["jobs"])

# Only what the handlers answer; openapi.py adds 400, 401, 413 and 422 from each route's
# parameters, security and body.
_SUBMIT_CONFLICT = "This Idempotency-Key was used with a different request."
_REPLAY = {200: {"model": JobOut, "description": "An idempotent replay: the job this "
                 "Idempotency-Key created before, unchanged. Or a unique hit "
                 "(`unique_hit: true`): the live job that holds the submit's unique key."}}

Limit = Annotated[int, Query(ge=1, le=500, description="Page size. Defaults to 20.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip.")]
JobIdPath = Annotated[UUID, Path(description="The job's id (a UUID).")]


@router.post("/jobs", status_code=201, response_model=JobOut,
             response_description="The job was created.",
             responses=_REPLAY | error(409, _SUBMIT_CONFLICT) | errors(429, 503))
async def submit_job(
    body: SubmitJob,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    tasks: TasksDep,
    tenant: TenantDep,
    idempotency_key: IdempotencyKeyDep,
) -> JobOut:
    """Submit a job. 201 with the new job; 200 with the same job for an idempotent replay,
    or with the live job holding the submit's unique key (`unique_hit: true`)."""
    result = await create_job(body, store, settings, tasks, tenant=tenant,
                              idempotency_key=idempotency_key)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return JobOut.from_job(result.job, checked=result.created, unique_hit=result.unique_hit)


async def create_job(
    body: SubmitJob,
    store: Store,
    settings: Settings,
    tasks: TaskRegistry,
    *,
    tenant: str,
    idempotency_key: str | None,
) -> SubmitResult:
    """`POST /jobs` once its headers and body are valid: this route's, and the fast path's
    (`conveyor.api.fastpath`) for the same request."""
    new_job = to_new_job(body, settings, tasks, tenant=tenant, idempotency_key=idempotency_key,
                         trace_id=trace_id_var.get())
    result = await store.submit(new_job, await rate_for(store, tenant,
                                                        settings.rate_limit_per_minute))
    if result.created:
        log.info("job_created", jobId=str(result.job.id), tenant=tenant, task=new_job.task)
    elif result.unique_hit:
        log.info("job_unique_hit", jobId=str(result.job.id), tenant=tenant)
    else:
        log.info("job_replayed", jobId=str(result.job.id), tenant=tenant)
    return result


@router.post("/jobs/batch", status_code=201, response_model=BatchOut,
             response_description="The jobs, created or (with an Idempotency-Key) replayed.",
             responses=error(409, _SUBMIT_CONFLICT) | errors(429, 503))
async def submit_batch(
    body: SubmitBatch,
    store: StoreDep,
    settings: SettingsDep,
    tasks: TasksDep,
    tenant: TenantDep,
    idempotency_key: IdempotencyKeyDep,
) -> BatchOut:
    """Submit up to 1,000 jobs in one transaction: all are created or none. With an
    Idempotency-Key, job i uses the key `<key>:<i>`."""
    trace_id = trace_id_var.get()
    new_jobs = [
        to_new_job(item, settings, tasks, tenant=tenant, trace_id=trace_id,
                   idempotency_key=None if idempotency_key is None else f"{idempotency_key}:{i}")
        for i, item in enumerate(body.jobs)
    ]
    rate = await rate_for(store, tenant, settings.rate_limit_per_minute)
    if rate is not None and len(new_jobs) > rate.per_minute:
        # A bucket never holds more tokens than the limit: this batch could never pass.
        raise HTTPException(422, f"a batch of {len(new_jobs)} jobs exceeds the per-tenant "
                                 f"limit of {rate.per_minute} jobs per minute")
    results = await store.submit_many(new_jobs, rate)
    log.info("jobs_created", count=sum(r.created for r in results), tenant=tenant)
    return BatchOut(jobs=[JobOut.from_job(r.job, unique_hit=r.unique_hit) for r in results])


@router.get("/jobs", response_model=JobList,
            responses=errors(503) | error(422, LISTING_REFUSAL))
async def list_jobs(
    store: StoreDep,
    filter: ListingFilter,
    limit: Limit = 20,
    offset: Offset = 0,
    cursor: Cursor = None,
    status: Annotated[JobStatus | None,
                      Query(description="pending running done failed cancelled")] = None,
) -> JobList:
    """List jobs, newest first, narrowed by every filter given. Page with `cursor` (each
    page's `next_cursor`); `offset` still works (after a `cursor`, it skips that many more)
    but reads every row it skips."""
    return await page_of(store, replace(filter, status=status), limit, offset, cursor)


async def page_of(store: Store, filter: JobFilter, limit: int, offset: int,
                  cursor: UUID | None) -> JobList:
    """A list page of `GET /jobs` or `GET /dlq`."""
    page = await store.list_jobs(filter=filter, limit=limit, offset=offset, after=cursor)
    return JobList(jobs=[JobOut.from_job(job) for job in page.jobs], total=page.total,
                   total_exact=page.total_exact, next_cursor=page.next_cursor,
                   limit=limit, offset=offset)


@router.post("/jobs/cancel", response_model=BulkCancelOut, responses=errors(503))
async def cancel_jobs(body: BulkCancelIn, store: StoreDep, principal: WriterDep
                      ) -> BulkCancelOut:
    """Cancel the live jobs a filter (or a selection, `ids`) matches, as
    `POST /jobs/{id}/cancel` would, up to `limit` this call, oldest first: pending ones at
    once, running ones on request. Each job's event records `bulk: true`, the filter and
    who asked. Only jobs created before the call began (`as_of`) are taken; `dry_run` only
    counts. Loop until `remaining` is 0, with `created_before` = the first answer's `as_of`
    (stop when a call changes nothing)."""
    filter = bulk_filter(body, principal, None if body.status is None
                         else JobStatus(body.status))
    result = await store.cancel_matching(filter, body.limit, dry_run=body.dry_run,
                                         actor=actor(principal))
    if not body.dry_run:
        log.info("jobs_bulk_cancelled", matched=result.matched,
                 cancelled=len(result.cancelled), cancel_requested=len(result.cancel_requested),
                 remaining=result.remaining, filter=filter.describe())
    return BulkCancelOut(matched=result.matched, counts_exact=result.exact,
                         cancelled=len(result.cancelled),
                         cancel_requested=len(result.cancel_requested), dry_run=body.dry_run,
                         remaining=result.remaining, as_of=result.as_of)


@router.get("/jobs/{job_id}", response_model=JobOut, response_model_exclude_unset=True,
            responses=errors(404, 503))
async def get_job(
    job_id: JobIdPath,
    store: StoreDep,
    principal: PrincipalDep,
    history: Annotated[bool, Query(description="Include the event timeline.")] = False,
) -> JobOut:
    job = await store.get(job_id)
    visible(principal, job.tenant)
    events = await store.job_events(job_id) if history else None
    return JobOut.from_job(job, events)


@router.post("/jobs/{job_id}/cancel", status_code=200, response_model=JobOut,
             response_description="The job was pending and is now cancelled.",
             responses={202: {"model": JobOut, "description": "The job is running: it was "
                              "asked to stop, and ends `cancelled` (unless its handler "
                              "finished first: then it keeps that outcome)."}}
             | errors(404, 503)
             | error(409, "The job is done, failed or cancelled already."))
async def cancel_job(job_id: JobIdPath, store: StoreDep, principal: WriterDep,
                     response: Response) -> JobOut:
    """Cancel a job: a pending one (also scheduled or waiting for a retry) at once, a running
    one cooperatively (its worker stops the handler within a heartbeat interval, sooner on
    PostgreSQL). Asking again for a running job changes nothing."""
    if principal.tenant is not None:
        visible(principal, (await store.get(job_id)).tenant)
    job = await store.cancel(job_id)
    if job.status is JobStatus.RUNNING:
        response.status_code = status.HTTP_202_ACCEPTED
        log.info("job_cancel_requested", jobId=str(job_id), tenant=job.tenant)
    else:
        log.info("job_cancelled", jobId=str(job_id), tenant=job.tenant)
    return JobOut.from_job(job)


@router.post("/jobs/{job_id}/retry", status_code=201, response_model=JobOut,
             response_description="The new job.",
             responses=errors(404, 503)
             | error(409, "The job is not failed or cancelled, or was already retried.")
             | error(422, "The job's stored payload breaks the payload limits (a row written "
                          "before they existed), so it cannot be copied."))
async def retry_job(job_id: JobIdPath, store: StoreDep, principal: WriterDep) -> JobOut:
    """Retry a failed (DLQ) or cancelled job: a new job with the same payload, linked both
    ways."""
    if principal.tenant is not None:
        visible(principal, (await store.get(job_id)).tenant)
    new_job = await store.retry(job_id, trace_id_var.get())
    log.info("job_created", jobId=str(new_job.id), retry_of=str(job_id), tenant=new_job.tenant)
    return JobOut.from_job(new_job)
