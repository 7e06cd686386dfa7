"""Retention run by real `conveyor worker` processes, on every driver: a worker deletes the
finished jobs past RETENTION_DAYS; of two workers only one prunes, and the other takes over
when the first is killed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.models import Ack, JobStatus, NewJob
from conveyor.store.base import Store
from tests.processes import ConveyorProcess, until
from tests.store.sql import store_url

pytestmark = pytest.mark.slow

RETENTION = {"RETENTION_DAYS": "7", "RETENTION_INTERVAL_SEC": "0.2",
             "RETENTION_BATCH_SIZE": "25"}


@pytest.fixture
def spawn(tmp_path: Path, database_url: str) -> Iterator[object]:
    started: list[ConveyorProcess] = []

    def start(**env: str) -> ConveyorProcess:
        base = {"DATABASE_URL": database_url, "WORKER_POLL_MS": "100",
                "RATE_LIMIT_PER_MINUTE": "0", **RETENTION}
        process = ConveyorProcess(["worker"], {**base, **env},
                                  tmp_path / f"worker-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


async def old_done_jobs(store: Store, n: int) -> None:
    """`n` jobs that finished eight days ago, and a job that will stay pending (in a queue no
    worker takes), whose event is then the newest."""
    await store.submit_many([NewJob("text", {"text": "x"}, queue="old") for _ in range(n)])
    leases = await store.lease("setup", ["old"], n, 300)
    await store.finish([Ack(lease, None) for lease in leases], "setup")
    await age_finished(store, days=8)
    await store.submit(NewJob("text", {"text": "newest"}, queue="nobody"))


async def age_finished(store: Store, days: float) -> None:
    path = getattr(store, "path", None)
    if path is not None:
        def run() -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE jobs SET finished_at = finished_at - ?"
                             " WHERE finished_at IS NOT NULL", (days * 86400,))
        await asyncio.to_thread(run)
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(store_url(store), autocommit=True) as conn:
        await conn.execute("UPDATE jobs SET finished_at = finished_at - make_interval(secs => %s)"
                           " WHERE finished_at IS NOT NULL", (days * 86400,))


def pruned_by(process: ConveyorProcess) -> bool:
    return '"retention_pruned"' in process.log_path.read_text(errors="replace")


async def test_a_worker_prunes_old_finished_jobs_in_batches(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    await old_done_jobs(store, 120)
    young = (await store.submit(NewJob("text", {"text": "y"}, queue="young"))).job
    [lease] = await store.lease("setup", ["young"], 1, 300)
    await store.finish([Ack(lease, None)], "setup")
    worker = spawn()

    async def all_pruned() -> bool:
        return (await store.counts()).pruned == {JobStatus.DONE: 120}

    await until(all_pruned, timeout=30, message=f"120 jobs pruned\n{worker.logs()}")
    assert (await store.list_jobs(status=JobStatus.DONE)).total == 1
    assert (await store.get(young.id)).status is JobStatus.DONE
    counts = await store.counts()
    assert counts.done == 121 and counts.jobs_submitted == 122
    state = await store.retention_state()
    assert str(worker.pid) in (state.holder or "")
    await until(lambda: asyncio.to_thread(pruned_by, worker), timeout=10,
                message="the pass logged")
    assert worker.stop() == 0


async def test_of_two_workers_one_prunes_and_the_other_takes_over(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    workers = [spawn(), spawn()]

    async def held() -> str | None:
        return (await store.retention_state()).holder

    await until(held, timeout=20, message="a worker holding the retention lease")
    await old_done_jobs(store, 100)

    async def pruned(n: int) -> bool:
        return (await store.counts()).pruned.get(JobStatus.DONE, 0) == n

    await until(lambda: pruned(100), timeout=30, message="100 jobs pruned")
    holder = await held()
    [first] = [w for w in workers if f":{w.pid}:" in (holder or "")]
    [other] = [w for w in workers if w is not first]
    await until(lambda: asyncio.to_thread(pruned_by, first), timeout=10, message="pass logged")
    assert not pruned_by(other), "both workers pruned"

    first.kill()
    await old_done_jobs(store, 50)
    await until(lambda: pruned(150), timeout=30,
                message=f"the survivor pruned the rest\n{other.logs()}")
    assert f":{other.pid}:" in (await held() or "")
    await until(lambda: asyncio.to_thread(pruned_by, other), timeout=10, message="pass logged")
    assert (await store.list_jobs(status=JobStatus.DONE)).total == 0
    assert other.stop() == 0
