"""Routes for queues: their figures, and pausing and resuming them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path

from conveyor.api.deps import AdminDep, PrincipalDep, StoreDep
from conveyor.api.openapi import errors
from conveyor.logging import get_logger
from conveyor.store.base import QueueInfo
from conveyor.wire import NAME_PATTERN, QueueOut, QueuesOut

log = get_logger("conveyor.api")
router = APIRouter(tags=["queues"])

QueueName = Annotated[str, Path(pattern=NAME_PATTERN, description="The queue's name.")]


def _out(info: QueueInfo) -> QueueOut:
    return QueueOut(**asdict(info))


@router.get("/queues", response_model=QueuesOut, responses=errors(503))
async def list_queues(store: StoreDep, principal: PrincipalDep) -> QueuesOut:
    """Every queue with live jobs, jobs finished in the last minute, or a pause state: its
    runnable, scheduled and running jobs, the oldest runnable job's age, what ended in the
    last minute, and whether it is paused (a tenant's key: the queues with its jobs,
    counting only those)."""
    return QueuesOut(queues=[_out(info) for info in await store.list_queues(principal.tenant)])


@router.post("/queues/{name}/pause", response_model=QueueOut, responses=errors(503))
async def pause_queue(name: QueueName, store: StoreDep, admin: AdminDep) -> QueueOut:
    """Stop every worker from starting the queue's jobs (their next lease skips it): running
    jobs finish, pending ones wait. Pausing a paused queue changes nothing."""
    info = await store.pause_queue(name)
    log.info("queue_paused", queue=name)
    return _out(info)


@router.post("/queues/{name}/resume", response_model=QueueOut, responses=errors(503))
async def resume_queue(name: QueueName, store: StoreDep, admin: AdminDep) -> QueueOut:
    """Let workers start the queue's jobs again (idle ones within WORKER_POLL_MS)."""
    info = await store.resume_queue(name)
    log.info("queue_resumed", queue=name)
    return _out(info)
