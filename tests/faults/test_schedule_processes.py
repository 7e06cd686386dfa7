"""Schedules with real processes, on every driver: two `conveyor worker` processes (which
both fire schedules) and two `conveyor api` processes, one schedule made over the API and
one declared in the workers' task module, each ticking every second. Every tick fires
exactly one job, whichever worker gets there first, and the ticks are the schedule's own
(one second apart, in phase), not the moments the workers happened to look."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from conveyor.store.base import Store
from tests.processes import ConveyorProcess, free_port, until, wait_http_ok

pytestmark = pytest.mark.slow

TICKS = 5

TASKS = textwrap.dedent('''
    from conveyor import schedule, task

    @task("beat", every=1)
    def beat(payload):
        return "ok"

    @task("report")
    def report(payload):
        return payload

    nightly = schedule("nightly", "report", cron="0 2 * * *", timezone="Europe/Berlin",
                       payload={"kind": "daily"})
''')


@pytest.fixture
def spawn(tmp_path: Path, database_url: str) -> Iterator[object]:
    (tmp_path / "scheduled_tasks.py").write_text(TASKS)
    started: list[ConveyorProcess] = []

    def start(*args: str) -> ConveyorProcess:
        env = {"DATABASE_URL": database_url, "WORKER_POLL_MS": "100",
               "RATE_LIMIT_PER_MINUTE": "0", "PYTHONPATH": str(tmp_path)}
        process = ConveyorProcess(list(args), env, tmp_path / f"{args[0]}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


async def test_each_tick_fires_one_job_across_processes(store: Store, spawn) -> None:  # type: ignore[no-untyped-def]
    workers = [spawn("worker", "--import", "scheduled_tasks") for _ in range(2)]
    ports = [free_port(), free_port()]
    apis = [spawn("api", "--port", str(port), "--import", "scheduled_tasks") for port in ports]
    for port, api in zip(ports, apis, strict=True):
        wait_http_ok(f"http://127.0.0.1:{port}/health", api)
    first, second = (f"http://127.0.0.1:{port}" for port in ports)
    http = httpx.AsyncClient(timeout=10)
    created = await http.post(f"{first}/schedules", json={
        "name": "api-beat", "task": "report", "interval_sec": 1, "payload": {"n": 1}})
    assert created.status_code == 201, created.text

    async def enough_ticks() -> bool:
        jobs = (await store.list_jobs(limit=200)).jobs
        fired = [j for j in jobs if j.schedule in ("beat", "api-beat")]
        return all(sum(j.schedule == name for j in fired) >= TICKS
                   for name in ("beat", "api-beat"))

    logs = "\n".join(w.logs() for w in workers)
    await until(enough_ticks, timeout=40, message=f"{TICKS} ticks of each schedule\n{logs}")
    for name in ("beat", "api-beat"):
        jobs = [j for j in (await store.list_jobs(limit=200)).jobs if j.schedule == name]
        ticks = sorted(j.scheduled_for for j in jobs if j.scheduled_for is not None)
        assert len(ticks) == len(jobs) == len(set(ticks)), f"a tick of {name} fired twice"
        steps = {(later - earlier) / timedelta(seconds=1)
                 for earlier, later in itertools.pairwise(ticks)}
        assert all(step >= 1 and abs(step - round(step)) < 1e-6 for step in steps), steps
    assert any("schedule_fired" in worker.logs() for worker in workers)

    listed = (await http.get(f"{second}/schedules")).json()["schedules"]
    by_name = {s["name"]: s for s in listed}
    assert set(by_name) == {"api-beat", "beat", "nightly"}
    assert by_name["beat"]["source"] == "code" and by_name["api-beat"]["source"] == "api"
    assert by_name["nightly"]["timezone"] == "Europe/Berlin"
    assert by_name["nightly"]["last_run_at"] is None  # not due for hours

    # Disabled on one API process, every worker stops firing it.
    disabled = await http.patch(f"{second}/schedules/beat", json={"enabled": False})
    assert disabled.status_code == 200
    await http.aclose()
    before = len([j for j in (await store.list_jobs(limit=500)).jobs if j.schedule == "beat"])

    async def api_beat_went_on() -> bool:
        jobs = (await store.list_jobs(limit=500)).jobs
        return sum(j.schedule == "api-beat" for j in jobs) >= TICKS + 3

    await until(api_beat_went_on, timeout=20, message="api-beat kept ticking")
    after = len([j for j in (await store.list_jobs(limit=500)).jobs if j.schedule == "beat"])
    assert after <= before + 1  # at most a tick already being fired when it was disabled
    assert [worker.stop() for worker in workers] == [0, 0]
    for api in apis:  # uvicorn ends a graceful SIGTERM shutdown by re-raising the signal
        assert api.stop() in (0, -15)
