"""Many processes on one PostgreSQL: 2 `conveyor api` + 3 `conveyor worker`, 2,000 jobs,
a WebSocket client on each API, the rate limit shared across APIs, and a PostgreSQL restart
in the middle of a run."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from conveyor.store.base import Store
from tests.processes import ConveyorProcess, free_port, until, wait_http_ok

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOBS = 2000


@contextlib.contextmanager
def cluster(tmp_path: Path, url: str, apis: int, workers: int,
            **env: str) -> Iterator[list[str]]:
    base = {"DATABASE_URL": url, "WORKER_POLL_MS": "500", "TEXT_SECONDS_PER_CHAR": "0",
            "RETRY_BACKOFF_BASE_SEC": "0.05", "WORKER_CONCURRENCY": "10",
            "DASHBOARD_DIR": str(tmp_path), "LOG_LEVEL": "warning", **env}
    processes: list[ConveyorProcess] = []
    urls: list[str] = []
    try:
        for i in range(apis):
            port = free_port()
            process = ConveyorProcess(["api"], {**base, "PORT": str(port)},
                                      tmp_path / f"api-{i}.log")
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
        for i in range(workers):
            processes.append(ConveyorProcess(["worker"], base, tmp_path / f"worker-{i}.log"))
        for process, api_url in zip(processes, urls, strict=False):
            wait_http_ok(f"{api_url}/health", process)
        yield urls
    finally:
        for process in processes:
            process.kill()


class EventCollector:
    """A WebSocket client on one API, recording every event type per job."""

    def __init__(self, api_url: str) -> None:
        self.url = api_url.replace("http://", "ws://") + "/ws"
        self.seen: dict[str, set[str]] = collections.defaultdict(set)
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        since: int | None = None
        while True:  # reconnect with catch-up, as the dashboard does
            url = self.url if since is None else f"{self.url}?since={since}"
            try:
                async with websockets.connect(url, max_size=None) as ws:
                    async for raw in ws:
                        message = json.loads(raw)
                        if message["type"] == "hello":
                            since = message["seq"] if since is None else since
                            self.ready.set()
                        elif "jobId" in message:
                            self.seen[message["jobId"]].add(message["type"])
                            since = message["seq"]
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(0.2)

    def succeeded(self) -> int:
        return sum("job_succeeded" in types for types in self.seen.values())


async def submit_all(urls: list[str], count: int, *, tolerate_outage: bool) -> list[str]:
    """Submit `count` jobs spread over the APIs, 16 in flight; on a dropped connection (or a
    503 during an outage) retry with the same Idempotency-Key, as a careful client would."""
    semaphore = asyncio.Semaphore(16)
    ids: list[str] = [""] * count
    async with httpx.AsyncClient(timeout=10) as http:
        async def one(i: int) -> None:
            async with semaphore:
                for _ in range(400):
                    try:
                        response = await http.post(
                            f"{urls[i % len(urls)]}/jobs", json={"text": f"job {i}"},
                            headers={"Idempotency-Key": f"job-{i}",
                                     "X-Tenant-Id": f"t{i % 50}"})
                    except httpx.TransportError:
                        # A keep-alive connection the server closed as we reused it, or the
                        # outage: the Idempotency-Key makes the retry safe.
                        await asyncio.sleep(0.1)
                        continue
                    if response.status_code == 503 and tolerate_outage:
                        await asyncio.sleep(0.1)
                        continue
                    assert response.status_code in (200, 201), response.text
                    ids[i] = response.json()["id"]
                    return
                raise AssertionError(f"job {i} never accepted")

        await asyncio.gather(*[one(i) for i in range(count)])
    return ids


async def assert_each_succeeded_once(store: Store, ids: list[str]) -> None:
    events = []
    seq = 0
    while batch := await store.events_after(seq, 5000):
        events.extend(batch)
        seq = batch[-1].seq
    succeeded = collections.Counter(str(e.job_id) for e in events
                                    if e.type.value == "job_succeeded")
    assert set(succeeded) == set(ids), "a job was lost"
    assert set(succeeded.values()) == {1}, "a job succeeded twice"


async def test_two_apis_three_workers_2000_jobs(postgres_store: Store, postgres_url: str,
                                               tmp_path: Path) -> None:
    with cluster(tmp_path, postgres_url, apis=2, workers=3, RATE_LIMIT_PER_MINUTE="0") as urls:
        collectors = [EventCollector(url) for url in urls]
        for collector in collectors:
            await asyncio.wait_for(collector.ready.wait(), 10)
        ids = await submit_all(urls, JOBS, tolerate_outage=False)
        assert len(set(ids)) == JOBS

        async def drained() -> bool:
            return (await postgres_store.counts()).done == JOBS

        await until(drained, timeout=120, interval=0.5, message="2000 jobs done")
        await assert_each_succeeded_once(postgres_store, ids)

        async def streamed() -> bool:
            return all(c.succeeded() == JOBS for c in collectors)

        await until(streamed, timeout=30, message="every API streamed every job")
        for collector in collectors:
            for job_id in ids:
                assert {"job_created", "job_leased", "job_succeeded"} <= collector.seen[job_id]
            collector.task.cancel()


async def test_rate_limit_is_shared_by_every_api(postgres_url: str, tmp_path: Path) -> None:
    with cluster(tmp_path, postgres_url, apis=2, workers=0, RATE_LIMIT_PER_MINUTE="10") as urls:
        async with httpx.AsyncClient(timeout=10) as http:
            statuses = [
                (await http.post(f"{urls[i % 2]}/jobs", json={"text": "hi"},
                                 headers={"X-Tenant-Id": "shared"})).status_code
                for i in range(10)
            ]
            assert statuses == [201] * 10
            for url in urls:
                limited = await http.post(f"{url}/jobs", json={"text": "hi"},
                                          headers={"X-Tenant-Id": "shared"})
                assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
            other = await http.post(f"{urls[1]}/jobs", json={"text": "hi"},
                                    headers={"X-Tenant-Id": "other"})
            assert other.status_code == 201


def restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main",
                    "restart"], check=True, capture_output=True, timeout=60)


@pytest.mark.timeout(300)
async def test_postgres_restart_mid_run_loses_nothing(postgres_store: Store, postgres_url: str,
                                                     tmp_path: Path) -> None:
    if shutil.which("pg_ctlcluster") is None:
        pytest.skip("needs a local PostgreSQL cluster managed by pg_ctlcluster")
    count = 600
    with cluster(tmp_path, postgres_url, apis=2, workers=2, RATE_LIMIT_PER_MINUTE="0",
                 TEXT_SECONDS_PER_CHAR="0.002") as urls:
        submitting = asyncio.create_task(submit_all(urls, count, tolerate_outage=True))

        async def some_done() -> bool:
            with contextlib.suppress(Exception):
                return (await postgres_store.counts()).done >= 100
            return False

        await until(some_done, timeout=60, message="first jobs done")
        await asyncio.to_thread(restart_postgres)
        async with httpx.AsyncClient(timeout=5) as http:
            during: list[Any] = [(await http.get(f"{urls[0]}/health")).status_code]
        assert during == [200], "/health stays up through a store outage"
        ids = await asyncio.wait_for(submitting, 180)

        async def drained() -> bool:
            with contextlib.suppress(Exception):
                counts = await postgres_store.counts()
                return counts.done == count
            return False

        await until(drained, timeout=120, interval=0.5, message="all jobs done after restart")
        await assert_each_succeeded_once(postgres_store, ids)
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"{urls[1]}/ready")).status_code == 200
