"""The chart sampler of a worker: writes the dashboard's per-minute samples into the store.

Every worker runs one, like the scheduler and the pruner; the store makes each minute's
sample be written once however many do (`Store.sample_stats`), so there is no leader to
elect, and charts go on while any worker runs. The sample of minute M is written once M has
ended: each worker offers it at the start of every `STATS_SAMPLE_SEC` interval of the clock
(by default just after each minute's start, `SETTLE_SEC` late, so the finishes committed at
the turn of the minute are in). The winner records M's latency and failures from the stored
jobs and events, and the queue depth as it is then: the depth at the end of M. A minute when
no worker ran has no sample (a gap in the charts); its failures are still counted, in their
own minute, by the next sample. A shorter interval only offers more often (tests use it).
"""

from __future__ import annotations

import asyncio
import time

from conveyor.config import Settings
from conveyor.errors import StoreError, StoreUnavailable
from conveyor.logging import get_logger
from conveyor.store.base import Store

log = get_logger("conveyor.worker")

SETTLE_SEC = 1.0
"""How long after an interval's start a sampler offers (at most a tenth of the interval)."""


def next_offer_in(now: float, interval: float) -> float:
    """Seconds from `now` (epoch) until the next offer: the next start of an `interval` of
    the clock, plus the settling time."""
    return interval - now % interval + min(SETTLE_SEC, interval / 10)


async def sample_charts(store: Store, settings: Settings, worker_id: str) -> None:
    """Run until cancelled (returns at once when STATS_SAMPLE_SEC is 0). A failed sample is
    logged and left to the next offer: charts must never stop a worker."""
    interval = settings.stats_sample_sec
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(next_offer_in(time.time(), interval))
        try:
            sampled = await store.sample_stats(worker_id, settings.stats_keep_days)
        except StoreUnavailable as exc:  # the worker's other loops report the outage
            log.debug("stats_sample_failed", worker=worker_id, error=str(exc))
            continue
        except StoreError as exc:
            log.error("stats_sample_failed", worker=worker_id, error=str(exc),
                      message="a chart sample failed; trying again at the next interval")
            continue
        if sampled.minute is not None:
            log.debug("stats_sampled", worker=worker_id, minute=sampled.minute.isoformat(),
                      queues=sampled.queues, jobs=sampled.jobs, events=sampled.events,
                      pruned=sampled.pruned)
