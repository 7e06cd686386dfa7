"""Fair dispatch (`--only fairness`): how long a small tenant's jobs wait behind a big one.

Tenant `big` holds a backlog (100,000 pending 10 ms jobs; `--quick`: 20,000) when the
workers start; tenant `small` then submits one job a second for `seconds` (20; quick 8).
Without fair dispatch every small job would wait for the whole backlog (100 s at 1,000
jobs/s); with it, a small job is leased by the next lease after its commit. Reported:

- the small jobs' wait, submit to start (`started_at - created_at`), median and max, in ms;
- the wait in *lease rounds*: the big tenant's jobs leased between a small job's commit and
  its lease (the event log's order, which is commit order), over the slots of every worker:
  how many times the workers refilled every slot before it was its turn (0 when it was
  leased before any slot freed again);
- the big tenant's drain rate while it happened (jobs/s, from the jobs' own timestamps).

The drain rate with one tenant, before and after fair dispatch, is the drain part's
(`bench/README.md`, "Fair dispatch").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Process, WorkerTweaks, start_workers, stop_all
from bench.results import Measurement, percentile
from conveyor.lifecycle import EventType
from conveyor.models import JobEvent, JobId, NewJob
from conveyor.store import connect_store
from conveyor.store.base import Store

FILL_BATCH = 1000
TASK = "bench_sleep10"


@dataclass(frozen=True)
class FairnessCase:
    backlog: int
    seconds: int
    processes: int = 1
    concurrency: int = 10
    timeout: float = 120.0

    @property
    def slots(self) -> int:
        return self.processes * self.concurrency


async def _fill(store: Store, tenant: str, jobs: int) -> None:
    for first in range(0, jobs, FILL_BATCH):
        count = min(FILL_BATCH, jobs - first)
        await store.submit_many([NewJob(task=TASK, payload={"n": first + i}, tenant=tenant)
                                 for i in range(count)])


async def run_fairness(
    kind: str, case: FairnessCase, new_database: Callable[[], str],
    drop: Callable[[str], None], log_level: str, logs: Path, tag: str,
    tweaks: WorkerTweaks | None = None,
) -> list[Measurement]:
    url = new_database()
    try:
        store = await connect_store(url)
        try:
            await _fill(store, "big", case.backlog)
            workers = start_workers(case.processes, case.concurrency, url, log_level, logs,
                                    tag, tweaks)
            try:
                return await _measure(kind, case, store, workers)
            finally:
                stop_all(workers)
        finally:
            await store.close()
    finally:
        drop(url)


async def _measure(kind: str, case: FairnessCase, store: Store,
                   workers: list[Process]) -> list[Measurement]:
    deadline = time.monotonic() + case.timeout
    while (await store.get_tenant("big")).running < case.slots:  # every slot busy
        if time.monotonic() > deadline or not all(w.alive() for w in workers):
            raise RuntimeError("the workers did not start the backlog")
        await asyncio.sleep(0.1)
    since = await store.last_event_seq()
    small: list[JobId] = []
    for _ in range(case.seconds):
        tick = time.monotonic()
        small.append((await store.submit(NewJob(task=TASK, payload={}, tenant="small"))).job.id)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    while (await store.get_tenant("small")).pending:
        if time.monotonic() > deadline:
            raise RuntimeError("the small tenant's jobs did not start")
        await asyncio.sleep(0.05)
    events: list[JobEvent] = []
    while batch := await store.events_after(events[-1].seq if events else since, 10_000):
        events += batch
    mine = set(small)
    created = {e.job_id: e.seq for e in events if e.job_id in mine and e.type is EventType.CREATED}
    leased = {e.job_id: e.seq for e in events if e.job_id in mine and e.type is EventType.LEASED}
    big_leases = [e.seq for e in events
                  if e.type is EventType.LEASED and e.job_id not in mine]
    rounds = [sum(created[j] < seq < leased[j] for seq in big_leases) / case.slots
              for j in small]
    waits = []
    for job_id in small:
        job = await store.get(job_id)
        assert job.started_at is not None
        waits.append((job.started_at - job.created_at).total_seconds() * 1000)
    window = [e for e in events if e.type is EventType.SUCCEEDED and e.job_id not in mine]
    span = (window[-1].at - window[0].at).total_seconds() if len(window) > 1 else 0.0
    details = {"backlog": case.backlog, "small_jobs": len(small), "slots": case.slots,
               "wait_ms_max": round(max(waits), 1), "rounds_max": round(max(rounds), 2),
               "big_left": (await store.get_tenant("big")).pending}
    label = f"fair dispatch, {case.backlog:,} pending of one tenant, another's 1 job/s"
    return [
        Measurement("fairness.wait_ms", f"{label}: its wait (median)", kind,
                    percentile(waits, 50), "ms", details, higher_is_better=False),
        Measurement("fairness.rounds", f"{label}: its wait in lease rounds (median)", kind,
                    percentile(rounds, 50), "rounds", details, higher_is_better=False),
        Measurement("fairness.big_rate", f"{label}: the big tenant's drain", kind,
                    (len(window) - 1) / span if span else 0.0, "jobs/s", details),
    ]
