"""The pruning side task of a worker: deletes finished jobs past `RETENTION_*_DAYS`.

Every worker runs it, but the store's retention lease lets one prune at a time; the others
only ask, every `RETENTION_INTERVAL_SEC`, and take over when the holder's lease runs out
(it stopped or died). The holder deletes a small batch per transaction (`Store.prune`) and
rests between batches for `PAUSE_RATIO` times as long as the batch took, so pruning a
backlog of millions takes at most a fraction of the database's time and the drain keeps its
pace (bench/README.md has the measurement); once a batch comes back empty it waits for the
next interval.
"""

from __future__ import annotations

import asyncio
import time

from conveyor.config import Settings
from conveyor.errors import StoreError, StoreUnavailable
from conveyor.lifecycle import JobStatus
from conveyor.logging import get_logger
from conveyor.store.base import RetentionPolicy, Store

log = get_logger("conveyor.worker")

PAUSE_RATIO = 8.0
"""Rest after a batch, as a multiple of the batch's own time: the pruner holds the database
about a ninth of the wall clock. 3 (a quarter) cost a PostgreSQL drain 29 % of its rate
(200,000 pruned under a 30,000-job drain); 8 is what bench/README.md measures."""
MIN_PAUSE_SEC = 0.02
"""…and at least this long, so even instant batches leave the writers a gap (SQLite's)."""


def retention_policy(settings: Settings) -> RetentionPolicy:
    """The settings' retention as the store takes it (empty: retention is off)."""
    return RetentionPolicy.of({JobStatus(status): days for status, days
                               in settings.retention_days_by_status.items()})


def hold_for_sec(settings: Settings) -> float:
    """How long a holder's lease lasts: three intervals, so the holder renews it at every
    look (a lost renewal or two included), and another worker takes over about then after
    the holder is gone. A batch that outlasts it is harmless: another holder's batches skip
    the rows it has locked."""
    return 3 * settings.retention_interval_sec


async def prune_history(
    store: Store, settings: Settings, worker_id: str, *, pause_ratio: float = PAUSE_RATIO
) -> None:
    """Run until cancelled (returns at once when retention is off)."""
    policy = retention_policy(settings)
    if not policy.days:
        return
    interval = settings.retention_interval_sec
    pass_jobs = pass_events = 0
    while True:
        started = time.monotonic()
        try:
            pruned = await store.prune(policy, worker_id, settings.retention_batch_size,
                                       hold_for_sec(settings))
        except StoreUnavailable as exc:
            log.warning("retention_failed", worker=worker_id, error=str(exc))
            await asyncio.sleep(interval)
            continue
        except StoreError as exc:  # a batch that cannot be deleted must not stop the worker
            log.error("retention_failed", worker=worker_id, error=str(exc),
                      message="a retention batch failed; trying again at the next interval")
            await asyncio.sleep(interval)
            continue
        if pruned.total:
            pass_jobs += pruned.total
            pass_events += pruned.events
            took = time.monotonic() - started
            await asyncio.sleep(max(MIN_PAUSE_SEC, took * pause_ratio))
            continue
        if pass_jobs:
            log.info("retention_pruned", worker=worker_id, jobs=pass_jobs, events=pass_events,
                     message=f"deleted {pass_jobs} finished jobs past their retention")
            pass_jobs = pass_events = 0
        await asyncio.sleep(interval)
