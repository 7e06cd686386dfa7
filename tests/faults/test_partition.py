"""A worker cut off from PostgreSQL while it holds leases (a real cut: its connections go
through a proxy that black-holes them, see `tests/netcut.py`), beside a worker that is not.

What must hold: the cut worker notices within its store deadline and says so once; it stops
its handlers before their leases can expire (self-fencing), so no job runs on both workers
at once; the other worker rescues the jobs and runs them at once (they keep their place);
every job succeeds exactly once; the cut worker recovers when the network does, without a
restart; and a SIGTERM during a cut exits within SHUTDOWN_GRACE_SEC plus a few seconds."""

from __future__ import annotations

import json
import signal
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from conveyor.models import JobId, JobStatus, NewJob
from conveyor.store import connect_store
from conveyor.store.base import Store
from tests.netcut import NetCut, netcut
from tests.processes import ConveyorProcess, until

pytestmark = pytest.mark.slow

LEASE_SEC = 3.0
GRACE_SEC = 2.0
HOLD_SEC = 5.0

TASKS = textwrap.dedent('''
    import asyncio, json, os, time

    from conveyor import task

    def note(kind, job_id):
        with open(os.environ["RUN_LOG"], "a") as log:
            log.write(json.dumps({"kind": kind, "job": str(job_id), "pid": os.getpid(),
                                  "at": time.time()}) + "\\n")

    @task("hold")
    async def hold(payload, context):
        note("start", context.job_id)
        try:
            await asyncio.sleep(payload["seconds"])
        finally:
            note("end", context.job_id)
        return "ok"
''')


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit(":", 1)[0] if ":" in parts.netloc.rsplit("@", 1)[-1] else (
        parts.netloc)
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


@pytest.fixture
async def pg(postgres_url: str) -> Iterator[Store]:  # type: ignore[misc]
    store = await connect_store(postgres_url)
    yield store
    await store.close()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[NetCut]:
    port = urlsplit(postgres_url).port or 5432
    with netcut(port) as cut:
        yield cut


def runs(log: Path) -> dict[str, list[dict[str, Any]]]:
    """Per job, its handler's start and end notes, in order."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if log.exists():
        for line in log.read_text().splitlines():
            note = json.loads(line)
            by_job[str(note["job"])].append(note)
    return by_job


async def test_a_cut_worker_fences_itself_and_recovers(
    pg: Store, proxy: NetCut, postgres_url: str, tmp_path: Path
) -> None:
    (tmp_path / "held_tasks.py").write_text(TASKS)
    run_log = tmp_path / "runs.jsonl"
    env = {"LEASE_TIMEOUT_SEC": str(LEASE_SEC), "STORE_TIMEOUT_SEC": "1",
           "SHUTDOWN_GRACE_SEC": str(GRACE_SEC), "WORKER_POLL_MS": "100",
           "WORKER_PREFETCH": "0", "RATE_LIMIT_PER_MINUTE": "0",
           "RUN_LOG": str(run_log), "PYTHONPATH": str(tmp_path)}
    started: list[ConveyorProcess] = []

    def worker(url: str, name: str) -> ConveyorProcess:
        process = ConveyorProcess(["worker", "--import", "held_tasks", "--concurrency", "5"],
                                  {**env, "DATABASE_URL": url}, tmp_path / f"{name}.log")
        started.append(process)
        return process

    try:
        cut = worker(through(postgres_url, proxy.port), "cut")
        ids = [r.job.id for r in await pg.submit_many(
            [NewJob("hold", {"seconds": HOLD_SEC}) for _ in range(5)])]

        async def all_running_on(process: ConveyorProcess, job_ids: list[JobId]) -> bool:
            jobs = [await pg.get(job_id) for job_id in job_ids]
            return all(j.status is JobStatus.RUNNING and f":{process.pid}:" in (
                j.lease_owner or "") for j in jobs)

        await until(lambda: all_running_on(cut, ids), timeout=20,
                    message=f"five jobs running on the cut worker\n{cut.logs()}")
        other = worker(postgres_url, "other")
        await until(lambda: _logged(other, "worker_start"), timeout=20, message="other up")

        cut_at = time.time()
        proxy.cut()

        async def all_done() -> bool:
            jobs = [await pg.get(job_id) for job_id in ids]
            return all(job.status is JobStatus.DONE for job in jobs)

        await until(all_done, timeout=40, interval=0.2,
                    message=f"rescued jobs done\n{cut.logs()}\n{other.logs()}")
        notes = runs(run_log)
        for job_id in ids:
            events = await pg.job_events(job_id)
            types = [e.type.value for e in events]
            assert types.count("job_succeeded") == 1, types
            assert types.count("job_lease_expired") == 1, types
            succeeded = next(e for e in events if e.type.value == "job_succeeded")
            assert f":{other.pid}:" in (succeeded.worker or "")
            by_pid: dict[int, list[float]] = defaultdict(list)
            for note in notes[str(job_id)]:
                by_pid[int(note["pid"])].append(float(note["at"]))
            _, cut_end = by_pid[cut.pid]
            other_start, other_end = by_pid[other.pid]
            # Fenced: stopped before its lease could expire, so never beside the other run.
            assert cut_end < cut_at + LEASE_SEC, (cut_end - cut_at)
            assert cut_end <= other_start, "the job ran on both workers at once"
            # Kept its place: started as soon as it was rescued.
            rescued = next(e for e in events if e.type.value == "job_lease_expired")
            assert other_start - rescued.at.timestamp() < 2.0
            assert other_end - other_start >= HOLD_SEC - 0.1
        logs = cut.logs()
        assert logs.count("store_unreachable") == 1, logs
        assert logs.count("job_lease_lost") == len(ids), logs

        proxy.heal()
        await until(lambda: _logged(cut, "store_reachable"), timeout=20,
                    message=f"the cut worker reconnects\n{cut.logs()}")
        assert '"outage_sec"' in cut.logs()
        assert other.stop() == 0
        after = [r.job.id for r in await pg.submit_many(
            [NewJob("hold", {"seconds": 0.1}) for _ in range(2)])]

        async def recovered() -> bool:
            jobs = [await pg.get(job_id) for job_id in after]
            return all(job.status is JobStatus.DONE for job in jobs)

        await until(recovered, timeout=20, message=f"recovered\n{cut.logs()}")
        for job_id in after:
            succeeded = next(e for e in await pg.job_events(job_id)
                             if e.type.value == "job_succeeded")
            assert f":{cut.pid}:" in (succeeded.worker or "")

        # A stop during a cut ends within the grace period plus a few seconds.
        held = [r.job.id for r in await pg.submit_many(
            [NewJob("hold", {"seconds": 30}) for _ in range(3)])]
        await until(lambda: all_running_on(cut, held), timeout=20, message="held again")
        proxy.cut()
        stop_began = time.monotonic()
        cut.proc.send_signal(signal.SIGTERM)
        code = cut.proc.wait(timeout=GRACE_SEC + 15)
        took = time.monotonic() - stop_began
        assert code == 0, cut.logs()
        # The worker's stop is bounded by grace + 3 s; closing the store and the process's
        # exit may add its 2 s close bound and the interpreter's teardown.
        assert took < GRACE_SEC + 8.0, (took, cut.logs())
    finally:
        for process in started:
            process.kill()


async def _logged(process: ConveyorProcess, event: str) -> bool:
    return f'"{event}"' in process.logs()
