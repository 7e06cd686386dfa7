"""Operational routes: health, readiness, metrics (JSON or Prometheus), throughput, workers."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from conveyor.api.deps import PrincipalDep, SettingsDep, StoreDep
from conveyor.api.errors import error_response
from conveyor.api.metrics import ApiMetrics
from conveyor.api.openapi import RETRY_AFTER, Responses, error, errors
from conveyor.errors import StoreUnavailable
from conveyor.wire import (
    HealthOut,
    MetricsOut,
    ReadyOut,
    ThroughputBucketOut,
    ThroughputOut,
    WhoAmIOut,
    WorkerOut,
    WorkersOut,
)

public_router = APIRouter(tags=["system"])
router = APIRouter(tags=["system"])


@public_router.get("/health", response_model=HealthOut)
async def health(request: Request) -> HealthOut:
    """Liveness: the process is up. Never touches the store and never needs the key."""
    return HealthOut(status="ok", uptime=round(time.monotonic() - request.app.state.started, 3))


@router.get("/ready", response_model=ReadyOut, response_description="The store answers.",
            responses={503: {"model": ReadyOut, "description": "The store does not answer.",
                             "headers": RETRY_AFTER}})
async def ready(store: StoreDep) -> ReadyOut | JSONResponse:
    """Readiness: 200 when the store answers, 503 when it does not."""
    try:
        await store.ping()
    except StoreUnavailable:
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503,
                            headers={"Retry-After": "5"})
    return ReadyOut(status="ok", store="reachable")


_PROMETHEUS: Responses = {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}


def wants_prometheus(accept: str | None, format: str | None) -> bool:
    """Prometheus sends `Accept: application/openmetrics-text…, text/plain…`; browsers and
    curl (`*/*`) get SEED.md's JSON counts."""
    if format is not None:
        return format == "prometheus"
    accept = (accept or "").lower()
    if "application/json" in accept:
        return False
    return "text/plain" in accept or "openmetrics" in accept


@router.get("/metrics", response_model=MetricsOut,
            response_description="JSON counts, or the Prometheus text format.",
            responses=_PROMETHEUS | errors(503)
            | error(403, "A tenant's key asked for the Prometheus format (it covers every "
                         "tenant: admin keys only)."))
async def metrics(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    format: Annotated[Literal["json", "prometheus"] | None, Query()] = None,
) -> MetricsOut | Response:
    """SEED.md's counts as JSON, or the Prometheus text format when asked for (admin keys:
    it covers every tenant). A tenant's key gets its own tenant's counts, from its rows."""
    prometheus = wants_prometheus(accept, format)
    if principal.tenant is not None:
        if prometheus:
            raise HTTPException(403, "the Prometheus format covers every tenant: admin keys only")
        counts = await store.tenant_counts(principal.tenant)
    else:
        counts = await store.counts()
    if prometheus:
        api_metrics: ApiMetrics = request.app.state.metrics
        queues = await store.list_queues()
        return Response(api_metrics.render(counts, queues), media_type=CONTENT_TYPE_LATEST)
    return MetricsOut(pending=counts.pending, running=counts.running, done=counts.done,
                      failed=counts.failed, cancelled=counts.cancelled,
                      dlq_count=counts.dlq_count,
                      jobs_submitted=counts.jobs_submitted, retries=counts.retries)


@router.get("/stats/throughput", response_model=ThroughputOut, responses=errors(503))
async def throughput(
    store: StoreDep, principal: PrincipalDep,
    minutes: Annotated[int, Query(ge=1, le=1440)] = 60,
) -> ThroughputOut:
    """Jobs that ended done or failed per minute; minutes with neither are left out (a
    tenant's key: its own tenant's)."""
    buckets = await store.throughput(minutes, principal.tenant)
    return ThroughputOut(buckets=[
        ThroughputBucketOut(minute=b.minute, done=b.done, failed=b.failed) for b in buckets
    ])


@router.get("/workers", response_model=WorkersOut, responses=errors(503))
async def workers(request: Request, store: StoreDep, principal: PrincipalDep) -> WorkersOut:
    """Workers that reported within three heartbeat intervals (a tenant's key: `running`
    counts its own tenant's jobs only)."""
    within = max(5.0, request.app.state.settings.heartbeat_interval_sec * 3)
    return WorkersOut(workers=[
        WorkerOut(id=w.id, host=w.host, pid=w.pid, queues=list(w.queues),
                  concurrency=w.concurrency, running=w.running, started_at=w.started_at,
                  last_seen_at=w.last_seen_at)
        for w in await store.list_workers(within, principal.tenant)
    ])


@router.get("/whoami", response_model=WhoAmIOut)
async def whoami(principal: PrincipalDep, settings: SettingsDep) -> WhoAmIOut:
    """Who this request's key acts as: its role, its tenant (null: every tenant), its id
    (null: API_KEY, or auth off). The dashboard shows it, so it says whose data it shows."""
    return WhoAmIOut(role=principal.role, tenant=principal.tenant, key_id=principal.key_id,
                     auth=settings.api_key is not None)


__all__ = ["error_response", "public_router", "router"]
