"""`GET /retention`: what is kept (the settings) and what retention has deleted so far, for
the dashboard and operators."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from conveyor.api.deps import SettingsDep, StoreDep
from conveyor.api.openapi import errors

router = APIRouter(tags=["retention"])


class RetentionDays(BaseModel):
    done: float | None = Field(description="Days a done job is kept; null: forever.")
    failed: float | None = Field(description="Days a failed (DLQ) job is kept; null: forever.")
    cancelled: float | None = Field(description="Days a cancelled job is kept; null: forever.")


class RetentionOut(BaseModel):
    enabled: bool = Field(description="Some finished jobs are deleted when old enough.")
    days: RetentionDays
    last_run_at: datetime | None = Field(
        description="When a worker last ran a retention batch; null: never.")
    pruned_jobs_total: int = Field(description="Jobs retention has deleted, ever.")


@router.get("/retention", response_model=RetentionOut, responses=errors(503))
async def get_retention(settings: SettingsDep, store: StoreDep) -> RetentionOut:
    """How long finished jobs are kept, by status (this API process's RETENTION_* settings;
    the workers prune by theirs, so give every process the same), when retention last ran
    and how many jobs it has deleted. Counters such as `jobs_submitted` and the status
    figures of `/metrics` still count deleted jobs."""
    days = settings.retention_days_by_status
    state = await store.retention_state()
    return RetentionOut(
        enabled=any(value is not None for value in days.values()),
        days=RetentionDays(**days),
        last_run_at=state.last_run_at,
        pruned_jobs_total=sum(state.pruned.values()),
    )
