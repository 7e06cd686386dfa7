"""The worker's scheduler: writes the schedules its task modules declare, then fires the due
ones for as long as the worker runs.

Every worker runs one; the store makes each tick fire once however many do
(`Store.fire_schedules`), so there is no leader to elect and nothing to fail over. A worker
looks again at the soonest next tick, and at least every `LOOK_EVERY_SEC`, so a schedule made
or changed over the API is seen within that long.
"""

from __future__ import annotations

import asyncio

from conveyor.errors import ConveyorError, StoreUnavailable
from conveyor.logging import get_logger
from conveyor.schedules import ScheduleSpec
from conveyor.store.base import Store
from conveyor.worker.supervise import Outage, StoreRetry

log = get_logger("conveyor.worker")

LOOK_EVERY_SEC = 1.0
"""The longest an idle scheduler waits before looking at the schedules again."""

_SOONEST_SEC = 0.01


async def run_schedules(
    store: Store, declared: list[ScheduleSpec], default_max_retries: int, worker_id: str,
    outage: Outage | None = None,
) -> None:
    """Sync `declared` (retrying while the store is away), then fire due ticks until
    cancelled. `outage`: the worker's, so an outage is logged once for all its loops."""
    retry = StoreRetry(log, worker_id, outage)
    if declared:
        await retry.call(lambda: store.sync_schedules(declared), None)
        log.info("schedules_declared", worker=worker_id,
                 schedules=sorted(spec.name for spec in declared))
    while True:
        wait = LOOK_EVERY_SEC
        try:
            firing = await store.fire_schedules(default_max_retries)
        except StoreUnavailable as exc:
            await retry.failed(exc, None)
            continue
        except ConveyorError as exc:  # a schedule the store refuses must not stop the jobs
            log.error("schedules_failed", worker=worker_id, error=exc.message)
            await asyncio.sleep(LOOK_EVERY_SEC)
            continue
        retry.succeeded()
        for fired in firing.fired:
            if fired.job_id is None:
                log.info("schedule_skipped", schedule=fired.name, tick=fired.tick.isoformat(),
                         worker=worker_id, message="the previous job is still running")
            else:
                log.info("schedule_fired", schedule=fired.name, tick=fired.tick.isoformat(),
                         jobId=str(fired.job_id), worker=worker_id)
        if firing.next_in_sec is not None:
            wait = max(_SOONEST_SEC, min(wait, firing.next_in_sec))
        await asyncio.sleep(wait)
