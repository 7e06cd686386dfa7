"""The operator CLI (`conveyor jobs | dlq | schedules`) as an operator runs it: the console
script against a real `conveyor up` (SQLite, its own worker and task module), in tables and
with `--json`, and its one-line errors."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.client import Client
from conveyor.lifecycle import JobStatus
from tests.processes import ConveyorProcess, free_port, wait_http_ok

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).with_name("conveyor")
KEY = "k3y"
TASKS = '''\
from pathlib import Path

from conveyor import PermanentError, task


@task("fragile")
def fragile(payload: dict) -> dict:
    """Fails for good until its flag file exists: a fault an operator fixes, then redrives."""
    if not Path(payload["flag"]).exists():
        raise PermanentError(f"{payload['why']}: {payload['flag']} is missing")
    return {"ok": True}
'''


@dataclass
class Server:
    url: str
    folder: Path

    def client(self) -> Client:
        return Client(self.url, api_key=KEY)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`conveyor ARGS` with the API's address and key from the environment."""
        base = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONPATH", "DATABASE_URL", "API_KEY", "CONVEYOR_URL")}
        return subprocess.run(
            [str(SCRIPT), *args], cwd=self.folder, capture_output=True, text=True, timeout=120,
            check=False, env={**base, "CONVEYOR_URL": self.url, "API_KEY": KEY, **env})

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fail(self, task: str = "fragile", *, why: str, flag: str = "flag", queue: str = "default",
             tenant: str | None = None) -> str:
        """A job in the DLQ, failed for good by the worker with `why` in its error."""
        with Client(self.url, api_key=KEY, tenant=tenant) as client:
            job = client.enqueue(task, {"flag": str(self.folder / flag), "why": why},
                                 queue=queue)
            assert client.wait(job.id, timeout=15).status is JobStatus.FAILED
        return str(job.id)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "__init__.py").write_text("")
    (tmp_path / "ops" / "tasks.py").write_text(TASKS)
    port = free_port()
    process = ConveyorProcess(["up", "--import", "ops.tasks", "--queues", "default,mail"], {
        "DATABASE_URL": f"sqlite:///{tmp_path}/ops.db", "PORT": str(port), "API_KEY": KEY,
        "RATE_LIMIT_PER_MINUTE": "0", "WORKER_POLL_MS": "100", "DASHBOARD_DIR": str(tmp_path),
        "PYTHONPATH": str(tmp_path), "LOG_LEVEL": "warning",
    }, tmp_path / "up.log")
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/health", process)
    yield Server(url, tmp_path)
    process.stop()


def _one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _rows(table: str) -> list[list[str]]:
    """A table's rows as cells (split on runs of two or more spaces), header first."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines() if line.strip()]


def test_jobs_list_show_retry_cancel(server: Server) -> None:
    failed = server.fail(why="disk full", tenant="acme")
    with server.client() as client:
        later = client.enqueue("fragile", {"flag": "x", "why": "later"}, delay_sec=3600)
    page = server.json("jobs", "list", "--status", "failed")
    assert (page["total"], [job["id"] for job in page["jobs"]]) == (1, [failed])
    assert server.json("jobs", "list", "--tenant", "acme", "--limit", "5")["total"] == 1
    assert [j["id"] for j in server.json("jobs", "list", "--error", "disk", "--task",
                                         "fragile")["jobs"]] == [failed]
    footer = server.ok("jobs", "list", "--limit", "1").splitlines()[-1]
    assert footer.startswith("(1-1 of 2; next page: --cursor ")
    cursor = footer.split()[-1][:-1]
    older = server.json("jobs", "list", "--limit", "1", "--cursor", cursor)
    assert [j["id"] for j in older["jobs"]] == [failed]
    assert server.ok("jobs", "list", "--limit", "1", "--cursor", cursor).splitlines()[-1] == (
        f"(1 after {cursor} of 2)")
    table = _rows(server.ok("jobs", "list"))
    assert table[0] == ["id", "status", "task", "queue", "tenant", "attempts", "created",
                        "last error"]
    by_id = {row[0]: row for row in table[1:-1]}
    assert by_id[failed][1:6] == ["failed", "fragile", "default", "acme", "1/4"]
    assert "disk full" in by_id[failed][7]
    assert by_id[str(later.id)][1] == "pending"
    assert table[-1] == ["(1-2 of 2)"]

    shown = server.ok("jobs", "show", failed, "--history")
    fields = dict(line.split(None, 1) for line in shown.split("\n\n")[0].splitlines()
                  if not line.startswith(("last error", "run at", "retry of", "retried by",
                                          "trace id")))
    assert fields["status"] == "failed" and fields["task"] == "fragile"
    events = _rows(shown.split("\n\n")[1])
    assert events[0][:4] == ["seq", "at", "event", "status"]
    assert [row[2] for row in events[1:]] == ["job_created", "job_leased", "job_failed"]
    assert server.json("jobs", "show", failed)["last_error"].startswith("disk full")

    retried = server.json("jobs", "retry", failed)
    assert retried["retry_of"] == failed
    cancelled = _rows(server.ok("jobs", "cancel", str(later.id)))
    assert cancelled[1][:2] == [str(later.id), "cancelled"]
    _one_line_error(server.run("jobs", "cancel", str(later.id)), "409", "cancelled")
    _one_line_error(server.run("jobs", "retry", failed), "409", "already retried")
    _one_line_error(server.run("jobs", "show", "0190d0f4-0000-7000-8000-000000000000"), "404")
    bad = server.run("jobs", "show", "not-a-uuid")
    assert bad.returncode == 2 and "not a valid UUID" in bad.stderr


def test_dlq_list_and_redrive_by_filter(server: Server) -> None:
    smtp = [server.fail(why="smtp down", queue="mail") for _ in range(3)]
    for _ in range(2):
        server.fail(why="disk full", flag="other")  # its flag never exists
    listed = server.json("dlq", "list")
    assert listed["total"] == 5
    table = _rows(server.ok("dlq", "list", "--limit", "2"))
    assert table[0][:3] == ["id", "task", "queue"] and len(table) == 4
    assert table[-1] == ["(1-2 of 5)"]

    assert server.ok("dlq", "redrive", "--queue", "mail", "--dry-run") == (
        "3 failed job(s) match; nothing redriven (dry run)\n")
    counted = server.json("dlq", "redrive", "--error", "disk", "--since", "1h", "--dry-run")
    assert (counted["matched"], counted["redriven"], counted["dry_run"]) == (2, 0, True)
    assert server.json("dlq", "redrive", "--until", "2000-01-01", "--dry-run")["matched"] == 0
    assert server.json("dlq", "redrive", "--error", "Disk", "--dry-run")["matched"] == 0

    (server.folder / "flag").write_text("fixed")  # the operator fixes the fault
    redriven = server.run("dlq", "redrive", "--error", "smtp", "--task", "fragile", "--json")
    assert redriven.returncode == 0, redriven.stderr
    answer = json.loads(redriven.stdout)
    assert (answer["matched"], answer["redriven"], answer["remaining"]) == (3, 3, 0)
    assert [pair["id"] for pair in answer["jobs"]] == smtp
    assert redriven.stderr == "redriven 3 of 3 (0 remaining)\n"  # progress, off stdout
    with server.client() as client:
        for pair in answer["jobs"]:
            assert client.wait(pair["retried_by"], timeout=15).status is JobStatus.DONE
            original = client.get(pair["id"], history=True)
            assert original.events is not None
            retried = original.events[-1]
            assert retried.type == "job_retried" and retried.data["redrive"] is True
            assert retried.data["filter"]["error"] == "smtp"
    # In a table: progress lines; --limit stops early and says so.
    text = server.ok("dlq", "redrive", "--error", "disk", "--limit", "1")
    assert text.splitlines() == ["redriven 1 of 2 (1 remaining)",
                                 "stopped at --limit; 1 still match"]
    assert server.json("dlq", "redrive", "--dry-run")["matched"] == 2  # 1 disk + its copy


def test_redrive_rate_paces_across_calls_and_never_takes_its_own_copies(
    server: Server,
) -> None:
    """12 jobs at 2/s: more than one paced call (each starts batches for about 5 s), one new
    job per half second throughout. The copies fail again at once (the fault is not fixed):
    the loop still ends, with exactly the 12, and the copies wait for the next redrive."""
    ids = [server.fail(why="still broken") for _ in range(12)]
    started = time.monotonic()
    result = server.run("dlq", "redrive", "--rate", "2/s")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    progress = result.stdout.splitlines()
    assert len(progress) >= 2, progress  # more than one call
    assert progress[-1] == "redriven 12 of 12 (0 remaining)"
    with server.client() as client:
        originals = [client.get(job_id) for job_id in ids]
        assert all(job.retried_by is not None for job in originals)
        created = sorted(client.get(job.retried_by).created_at.timestamp()  # type: ignore[arg-type]
                         for job in originals)
        gaps = [later - earlier for earlier, later in itertools.pairwise(created)]
        assert min(gaps) >= 0.5 - 0.05, gaps  # never two in one turn, across calls too
        assert took >= 11 * 0.5 - 0.1
        assert took < 30, "generous: 12 jobs at 2/s take about 6 s"
        deadline = time.monotonic() + 15
        while client.list("failed").total < 24:  # the copies failed again meanwhile
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert server.json("dlq", "redrive", "--dry-run")["matched"] == 12
    bad = server.run("dlq", "redrive", "--rate", "fast")
    assert bad.returncode == 2 and "is not a rate" in bad.stderr
    slow = server.run("dlq", "redrive", "--rate", "1/m")  # under the API's 0.1/s
    _one_line_error(slow, "422", "rate_per_sec")


def test_schedules_list_enable_disable(server: Server) -> None:
    created = httpx.post(f"{server.url}/schedules", headers={"X-API-Key": KEY}, json={
        "name": "nightly", "task": "fragile", "cron": "0 3 * * *",
        "payload": {"flag": "x", "why": "nightly"}})
    assert created.status_code == 201, created.text
    httpx.post(f"{server.url}/schedules", headers={"X-API-Key": KEY}, json={
        "name": "often", "task": "fragile", "interval_sec": 3600,
        "payload": {"flag": "x", "why": "often"}}).raise_for_status()
    table = _rows(server.ok("schedules", "list"))
    assert table[0] == ["name", "task", "when", "timezone", "state", "next run", "last run",
                        "source"]
    assert [row[:5] for row in table[1:]] == [
        ["nightly", "fragile", "0 3 * * *", "UTC", "enabled"],
        ["often", "fragile", "every 3600 s", "UTC", "enabled"]]
    [disabled] = server.json("schedules", "disable", "nightly")
    assert (disabled["name"], disabled["enabled"]) == ("nightly", False)
    assert _rows(server.ok("schedules", "list"))[1][4] == "disabled"
    [enabled] = server.json("schedules", "enable", "nightly")
    assert enabled["enabled"] is True and enabled["next_run_at"] is not None
    assert datetime.fromisoformat(enabled["next_run_at"]) > datetime.now(UTC)
    listed = server.json("schedules", "list")
    assert [s["name"] for s in listed] == ["nightly", "often"]
    _one_line_error(server.run("schedules", "enable", "nope"), "404")
    _one_line_error(server.run("schedules", "list", "--api-key", "wrong"), "401")
