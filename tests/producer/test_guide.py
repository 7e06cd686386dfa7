"""The worked examples of docs/guide.md (`docs/examples/shop/`), run as a user would: a
worker started from that folder with `--import tasks`, the plain script, and the FastAPI app
under uvicorn, all on one SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.models import JobStatus
from conveyor.store import connect_store
from tests.processes import REPO, free_port, until

pytestmark = pytest.mark.slow

SHOP = REPO / "docs" / "examples" / "shop"


@pytest.fixture
def shop_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/shop.db",
           "WORKER_POLL_MS": "100", "RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "warning"}
    subprocess.run([sys.executable, "-m", "conveyor", "migrate"], env=env, cwd=SHOP,
                   check=True, capture_output=True, timeout=60)
    worker = subprocess.Popen([sys.executable, "-m", "conveyor", "worker", "--import", "tasks"],
                              env=env, cwd=SHOP, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        yield env
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_the_script_enqueues_and_gets_the_result(shop_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "script.py"], env=shop_env, cwd=SHOP,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done {'order': 42, 'sent_to': 'ada@example.com'}"


def test_the_fastapi_app_enqueues_through_the_producer_api(
    shop_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "app.log").open("wb")
    app = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:app", "--port", str(port)],
                           env=shop_env, cwd=SHOP, stdout=log, stderr=subprocess.STDOUT)
    try:
        async def placed() -> dict[str, str] | None:
            try:
                async with httpx.AsyncClient() as client:
                    response = await client.post(
                        f"http://127.0.0.1:{port}/orders",
                        json={"id": 7, "email": "bo@example.com", "items": 3})
            except httpx.TransportError:
                return None  # not listening yet
            assert response.status_code == 202, response.text
            jobs: dict[str, str] = response.json()
            return jobs

        async def check() -> None:
            jobs = await until(placed, timeout=30, message="the app answered")
            store = await connect_store(shop_env["DATABASE_URL"], producer=True)
            try:
                async def finished() -> list[object] | None:
                    found = [await store.get(uuid.UUID(jobs[name]))
                             for name in ("receipt_job", "packing_job")]
                    return found if all(j.status is JobStatus.DONE for j in found) else None

                receipt, packing = await until(finished, timeout=30, message="both jobs done")
                assert receipt.result == {"order": 7, "sent_to": "bo@example.com"}  # type: ignore[attr-defined]
                assert packing.result == 3 and packing.priority == 5  # type: ignore[attr-defined]
            finally:
                await store.close()

        asyncio.run(check())
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
