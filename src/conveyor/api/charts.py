"""The dashboard's charts: queue depth, latency percentiles and failures per minute, from the
samples the workers write into the store once a minute (`worker/sampler.py`), so a chart
shows the same history after a reload, on any API process. Any key may read them; a
tenant's key gets its own tenant's figures (every sample is kept per tenant too)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from conveyor.api.deps import PrincipalDep, StoreDep
from conveyor.api.openapi import errors
from conveyor.store.charts import MAX_MINUTES

router = APIRouter(tags=["charts"])

Minutes = Annotated[int, Query(ge=1, le=MAX_MINUTES,
                               description="How many of the last ended minutes to show.")]


class QueueSampleOut(BaseModel):
    minute: datetime = Field(description="The minute's start; the depth is at its end.")
    queue: str
    pending: int = Field(description="Runnable pending jobs.")
    running: int
    oldest_pending_age_sec: float | None = Field(
        description="How long the oldest runnable pending job had waited; null: none.")


class QueueSamplesOut(BaseModel):
    samples: list[QueueSampleOut] = Field(description="Oldest first, then by queue.")


class LatencyBucketOut(BaseModel):
    minute: datetime
    jobs: int = Field(description="Jobs that ended done or failed in the minute.")
    wait_p50: float = Field(description="Seconds from runnable to started.")
    wait_p95: float
    wait_p99: float
    run_p50: float = Field(description="Seconds from started to finished.")
    run_p95: float
    run_p99: float


class LatencyOut(BaseModel):
    buckets: list[LatencyBucketOut] = Field(description="Oldest first.")


class FailureBucketOut(BaseModel):
    minute: datetime
    task: str
    failures: int = Field(description="Failed attempts: retried or dead-lettered.")


class FailuresOut(BaseModel):
    buckets: list[FailureBucketOut] = Field(description="Oldest first, then by task.")


@router.get("/stats/queues", response_model=QueueSamplesOut, responses=errors(503))
async def queue_samples(store: StoreDep, principal: PrincipalDep,
                        minutes: Minutes = 60) -> QueueSamplesOut:
    """Each queue's depth at the end of each sampled minute: runnable pending and running
    jobs and the oldest runnable job's age. A queue has no sample for a minute it had no
    jobs in (but the one in which it drained, at zero); a minute no worker sampled has
    none at all (a tenant's key: its own jobs only)."""
    samples = await store.queue_samples(minutes, principal.tenant)
    return QueueSamplesOut(samples=[QueueSampleOut(**asdict(s)) for s in samples])


@router.get("/stats/latency", response_model=LatencyOut, responses=errors(503))
async def latency_samples(store: StoreDep, principal: PrincipalDep,
                          minutes: Minutes = 60) -> LatencyOut:
    """Wait and run time percentiles (p50, p95, p99) of the jobs that ended in each minute;
    minutes in which none ended are left out (a tenant's key: its own jobs)."""
    samples = await store.latency_samples(minutes, principal.tenant)
    return LatencyOut(buckets=[LatencyBucketOut(**asdict(s)) for s in samples])


@router.get("/stats/failures", response_model=FailuresOut, responses=errors(503))
async def failure_samples(store: StoreDep, principal: PrincipalDep,
                          minutes: Minutes = 60) -> FailuresOut:
    """Failed attempts per task in each minute: retried (after a failure or an expired
    lease) or dead-lettered; tasks and minutes without any are left out (a tenant's key:
    its own jobs)."""
    samples = await store.failure_samples(minutes, principal.tenant)
    return FailuresOut(buckets=[FailureBucketOut(**asdict(s)) for s in samples])
