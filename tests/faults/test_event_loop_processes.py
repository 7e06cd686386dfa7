"""`conveyor worker` runs its handlers on the loop `EVENT_LOOP` picks: uvloop by default when
it is installed, asyncio's own when asked."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from conveyor.models import Job, JobStatus, NewJob
from conveyor.store import connect_store
from tests.processes import ConveyorProcess, until

TASKS = '''
import asyncio
from conveyor import task

@task("loop_kind")
async def loop_kind(payload: dict) -> dict:
    return {"loop": type(asyncio.get_running_loop()).__module__}
'''

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


@pytest.mark.parametrize(("choice", "module"), [
    pytest.param("auto", "uvloop", marks=pytest.mark.skipif(not HAS_UVLOOP, reason="no uvloop")),
    ("asyncio", "asyncio.unix_events"),
])
async def test_a_worker_runs_on_the_loop_event_loop_picks(
    tmp_path: Path, choice: str, module: str,
) -> None:
    (tmp_path / "looptasks.py").write_text(TASKS)
    url = f"sqlite:///{tmp_path}/t.db"
    store = await connect_store(url)
    worker = ConveyorProcess(["worker", "--import", "looptasks"], {
        "DATABASE_URL": url, "EVENT_LOOP": choice, "PYTHONPATH": str(tmp_path),
        "WORKER_POLL_MS": "100",
    }, tmp_path / "worker.log")
    try:
        job = (await store.submit(NewJob("loop_kind", {}))).job

        async def done() -> Job | None:
            found = await store.get(job.id)
            return found if found.status is JobStatus.DONE else None

        finished = await until(done, timeout=20, message="the job never ran")
        assert finished.result["loop"].startswith(module), worker.logs()
    finally:
        worker.stop()
        await store.close()
