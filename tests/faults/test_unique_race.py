"""Unique submits racing from several real processes create one job per key, on every driver:
`conveyor api` processes answering `POST /jobs` at once (the fast path, group commits inside
each process, and the processes against one another), and producer processes calling
`conveyor.Queue.enqueue` at the same moment."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.store.base import Store
from tests.processes import REPO, ConveyorProcess, free_port, wait_http_ok

pytestmark = pytest.mark.slow

APIS = 3
PER_API = 8
ROUNDS = 5


@pytest.fixture
def apis(tmp_path: Path, database_url: str, store: Store) -> Iterator[list[str]]:
    """`APIS` API processes on one database (migrated by `store` first)."""
    started: list[tuple[ConveyorProcess, str]] = []
    for index in range(APIS):
        port = free_port()
        process = ConveyorProcess(["api"], {
            "DATABASE_URL": database_url, "PORT": str(port), "RATE_LIMIT_PER_MINUTE": "0",
            "DASHBOARD_DIR": str(tmp_path), "LOG_LEVEL": "warning",
        }, tmp_path / f"api-{index}.log")
        started.append((process, f"http://127.0.0.1:{port}"))
    try:
        for process, url in started:
            wait_http_ok(f"{url}/health", process)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.kill()


async def test_unique_submits_racing_through_several_apis_create_one_job(
    apis: list[str], store: Store,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for round_ in range(ROUNDS):
            key = f"race-{round_}"
            answers = await asyncio.gather(*[
                client.post(f"{url}/jobs", json={"text": f"r{i}", "unique_key": key,
                                                 "unique_while": "active"})
                for url in apis for i in range(PER_API)])
            statuses = Counter(answer.status_code for answer in answers)
            assert statuses == {201: 1, 200: APIS * PER_API - 1}, statuses
            bodies = [answer.json() for answer in answers]
            assert len({body["id"] for body in bodies}) == 1
            assert sum(body["unique_hit"] for body in bodies) == APIS * PER_API - 1
            assert {body["unique_key"] for body in bodies} == {key}
    page = await store.list_jobs(limit=100)
    assert page.total == ROUNDS
    assert sorted(job.unique_key or "" for job in page.jobs) == [
        f"race-{r}" for r in range(ROUNDS)]


PRODUCER = textwrap.dedent("""
    import json, os, sys, time, uuid
    from conveyor import Queue
    from conveyor.errors import JobNotFound

    url, go, keys = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Queue(url) as queue:
        try:
            queue.get(uuid.uuid4())  # opens the store before the start signal
        except JobNotFound:
            pass
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
        ids = [str(queue.enqueue("text", {"text": "p"}, unique_key=f"p-{k}").id)
               for k in range(keys)]
    print(json.dumps(ids), flush=True)
""")


def race_producers(database_url: str, go: Path, keys: int, count: int = 4) -> list[list[str]]:
    """Start `count` producer processes, let them all go at once; the ids each one got."""
    producers = [
        subprocess.Popen([sys.executable, "-c", PRODUCER, database_url, str(go), str(keys)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)]
    try:
        for producer in producers:
            assert producer.stdout is not None
            line = producer.stdout.readline()
            assert line == "ready\n", producer.stderr.read() if producer.stderr else line
        go.touch()
        deadline = time.monotonic() + 60
        outputs = []
        for producer in producers:
            out, err = producer.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert producer.returncode == 0, err
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        return outputs
    finally:
        for producer in producers:
            if producer.poll() is None:
                producer.kill()
                producer.wait()


async def test_unique_enqueues_racing_from_several_producer_processes_create_one_job(
    tmp_path: Path, database_url: str, store: Store,
) -> None:
    keys = 10
    outputs = await asyncio.to_thread(race_producers, database_url, tmp_path / "go", keys)
    for k in range(keys):  # every process got the one job of each key
        assert len({ids[k] for ids in outputs}) == 1, k
    assert (await store.list_jobs(limit=100)).total == keys
