"""Routes for periodic schedules: list, create, read, change (enable, disable) and delete.

A schedule made here has `source = "api"`; those declared in task modules (`source =
"code"`) are listed and can be enabled, disabled or changed here too, but the next worker
start writes their code's definition again (keeping the operator's `enabled`). Payloads are
checked against the task's model when this process knows the task, as submits are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from conveyor.api.deps import PrincipalDep, StoreDep, TasksDep, TenantDep, WriterDep, own_tenant
from conveyor.api.openapi import error, errors
from conveyor.errors import InvalidSchedule, ScheduleNotFound
from conveyor.keys import Principal
from conveyor.logging import get_logger
from conveyor.schedules import Schedule, ScheduleSpec
from conveyor.store.base import Store
from conveyor.submitting import scheduled
from conveyor.wire import NAME_PATTERN, ScheduleIn, ScheduleOut, SchedulePatch, SchedulesOut

log = get_logger("conveyor.api")
router = APIRouter(tags=["schedules"])

ScheduleName = Annotated[str, Path(pattern=NAME_PATTERN, description="The schedule's name.")]

_NOT_NULL = ("task", "payload", "timezone", "queue", "tenant", "enabled", "overlap",
             "priority")
"""PATCH fields that may be left out but not set to null (`max_retries: null` means the
worker's MAX_RETRIES; `cron: null` with an `interval_sec` switches kinds)."""


def _out(schedule: Schedule) -> ScheduleOut:
    spec = schedule.spec
    return ScheduleOut(
        name=spec.name, task=spec.task, payload=dict(spec.payload), queue=spec.queue,
        tenant=spec.tenant, cron=spec.cron, interval_sec=spec.interval_sec,
        timezone=spec.timezone, enabled=spec.enabled, overlap=spec.overlap,
        priority=spec.priority, max_retries=spec.max_retries, source=schedule.source,
        next_run_at=schedule.next_run_at, last_run_at=schedule.last_run_at,
        last_job_id=schedule.last_job_id, created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


@router.get("/schedules", response_model=SchedulesOut, responses=errors(503))
async def list_schedules(store: StoreDep, principal: PrincipalDep) -> SchedulesOut:
    """Every schedule, by name, with its next tick and the job its last tick made (a
    tenant's key: its own tenant's)."""
    return SchedulesOut(schedules=[_out(s) for s in await store.list_schedules()
                                   if principal.sees(s.spec.tenant)])


@router.post("/schedules", status_code=201, response_model=ScheduleOut,
             responses=error(409, "A schedule with this name exists already.") | errors(503))
async def create_schedule(
    body: ScheduleIn, store: StoreDep, tasks: TasksDep, tenant: TenantDep,
    principal: PrincipalDep,
) -> ScheduleOut:
    """Make a schedule. It first fires at its first tick after now (by the database's
    clock), then on every tick; a tick missed while no worker ran fires once when one
    returns."""
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    given["tenant"] = own_tenant(principal, given.get("tenant", tenant))
    spec = scheduled(ScheduleSpec(**given), tasks)
    created = await store.create_schedule(spec)
    log.info("schedule_created", schedule=spec.name, task=spec.task)
    return _out(created)


@router.get("/schedules/{name}", response_model=ScheduleOut, responses=errors(404, 503))
async def get_schedule(name: ScheduleName, store: StoreDep,
                       principal: PrincipalDep) -> ScheduleOut:
    return _out(await _own(store, principal, name))


async def _own(store: Store, principal: Principal, name: str) -> Schedule:
    """The schedule, if it is this principal's to see (another tenant's is a 404)."""
    schedule = await store.get_schedule(name)
    if not principal.sees(schedule.spec.tenant):
        raise ScheduleNotFound(f"no schedule named {name!r}")
    return schedule


@router.patch("/schedules/{name}", response_model=ScheduleOut, responses=errors(404, 503))
async def update_schedule(
    name: ScheduleName, body: SchedulePatch, store: StoreDep, tasks: TasksDep,
    principal: WriterDep,
) -> ScheduleOut:
    """Change a schedule: `{"enabled": false}` disables it, `{"enabled": true}` enables it
    again (from its next tick; ticks missed while disabled are not fired). A new `cron`,
    `interval_sec` or `timezone` takes effect from the first tick after now."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    nulls = sorted(field for field in _NOT_NULL if field in changes and changes[field] is None)
    if nulls:
        raise InvalidSchedule(f"{nulls[0]} cannot be null")
    retasked = "task" in changes or "payload" in changes
    # Read first only when it matters: a tenant's key may change only its own schedules,
    # and a new task or payload is checked against the whole definition.
    current = (await _own(store, principal, name)
               if principal.tenant is not None or retasked else None)
    if "tenant" in changes:
        own_tenant(principal, changes["tenant"])
    if current is not None and retasked:
        changes["payload"] = dict(scheduled(current.spec.changed(changes), tasks).payload)
    updated = await store.update_schedule(name, changes)
    log.info("schedule_changed", schedule=name, fields=sorted(changes))
    return _out(updated)


@router.delete("/schedules/{name}", status_code=204, response_class=Response,
               responses=errors(404, 503))
async def delete_schedule(name: ScheduleName, store: StoreDep,
                          principal: WriterDep) -> Response:
    """Delete a schedule; the jobs it fired stay. A schedule declared in code comes back at
    the next worker start unless its declaration is removed too."""
    await _own(store, principal, name)
    await store.delete_schedule(name)
    log.info("schedule_deleted", schedule=name)
    return Response(status_code=204)
