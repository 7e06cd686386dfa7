"""The Python clients and the CLI against real processes: `conveyor up` (SQLite) for the
clients, `conveyor api` on PostgreSQL for a store that goes away, and the `conveyor` console
script in a temporary working directory for the CLI's flags and its one-line errors."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import pytest

import conveyor
from conveyor import AsyncClient, JobSpec
from conveyor.client import (
    Client,
    ClientError,
    IdempotencyConflictError,
    InvalidPayloadError,
    InvalidRequestError,
    InvalidTransitionError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from conveyor.errors import (
    IdempotencyConflict,
    InvalidPayload,
    InvalidSubmission,
    InvalidTransition,
    JobNotFound,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)
from conveyor.lifecycle import JobStatus
from tests.processes import REPO, ConveyorProcess, free_port, wait_http_ok

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    process = ConveyorProcess(["up"], {
        "DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "PORT": str(port), "API_KEY": "k3y",
        "TEXT_SECONDS_PER_CHAR": "0.01", "WORKER_POLL_MS": "100", "RATE_LIMIT_PER_MINUTE": "3",
        "DASHBOARD_DIR": str(tmp_path), "RETRY_BACKOFF_BASE_SEC": "0.01",
    }, tmp_path / "up.log")
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/health", process)
    yield url
    process.stop()
    logs = process.log_path.read_text()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    # The round trip's traced request: its trace id follows the job into the worker's lines.
    worker_lines = [line for line in lines if line.get("traceId") == "client-trace-1"]
    if request.node.name == "test_client_round_trip":
        assert "job_succeeded" in {line["event"] for line in worker_lines}, logs
        assert all(line.get("jobId") for line in worker_lines
                   if line["event"] == "job_succeeded")
    assert "k3y" not in logs, "the API key must never be logged"


def test_client_round_trip(server: str) -> None:
    with Client(server, api_key="k3y", tenant="acme") as client:
        job = client.submit_text("Hi", idempotency_key="c1")
        assert client.submit_text("Hi", idempotency_key="c1").id == job.id
        done = client.wait(job.id, timeout=10)
        assert done.status.value == "done" and done.tenant == "acme"
        custom = client.enqueue("no_such_task", {"x": 1})
        assert client.wait(custom.id, timeout=10).status.value == "failed"
        assert [j.id for j in client.dlq().jobs] == [custom.id]
        third = client.submit_text("Hey")
        with pytest.raises(ClientError) as limited:
            client.submit_text("Hi")  # fourth new job for acme at 3 per minute
        assert limited.value.status == 429 and limited.value.code == "rate_limited"
        history = client.get(job.id, history=True).events
        assert history is not None and [e.type for e in history][-1] == "job_succeeded"
        client.wait(third.id, timeout=10)
        assert client.metrics().done == 2 and client.list("failed").total == 1
        assert [j.id for j in client.list(task="no_such_task", error="no_such")
                .jobs] == [custom.id]
        assert [j.id for j in client.dlq(payload='"x"').jobs] == [custom.id]
        first = client.list(limit=1)
        assert first.next_cursor is not None
        assert client.list(limit=1, cursor=first.next_cursor).jobs[0].id != first.jobs[0].id
    with Client(server, api_key="wrong") as client, pytest.raises(ClientError) as denied:
        client.list()
    assert denied.value.status == 401
    traced = httpx.post(f"{server}/jobs", json={"text": "Yo"},
                        headers={"X-API-Key": "k3y", "X-Trace-Id": "client-trace-1"})
    assert traced.headers["x-trace-id"] == "client-trace-1"
    with Client(server, api_key="k3y") as client:
        assert client.wait(traced.json()["id"], timeout=10).trace_id == "client-trace-1"
    # Scheduling, timeouts and cancelling.
    with Client(server, api_key="k3y", tenant="ops") as client:
        at = datetime.now(UTC) + timedelta(hours=1)
        later = client.enqueue("text", {"text": "later"}, run_at=at, timeout=5)
        assert later.status.value == "pending" and later.timeout_sec == 5
        assert abs((later.run_at - at).total_seconds()) < 0.01
        cancelled = client.cancel(later.id)
        assert cancelled.status.value == "cancelled"
        assert client.wait(later.id, timeout=1).status.value == "cancelled"
        with pytest.raises(ClientError) as again:
            client.cancel(later.id)
        assert again.value.status == 409 and "cancelled" in str(again.value)
        redo = client.retry(later.id)
        assert redo.retry_of == later.id and redo.timeout_sec == 5
        assert client.metrics().cancelled == 1
        with pytest.raises(ValueError, match="timezone-aware"):
            client.enqueue("text", {"text": "x"}, run_at=datetime.now())


def test_cli_lists_its_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "conveyor", "--help"], cwd=REPO,
                            capture_output=True, text=True, check=True)
    for command in ("up", "api", "worker", "migrate"):
        assert f"  {command} " in result.stdout
    worker_help = subprocess.run([sys.executable, "-m", "conveyor", "worker", "--help"],
                                 cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "--concurrency" in worker_help and "--import" in worker_help
    assert "--queues" in worker_help


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    subprocess.run([sys.executable, "-m", "conveyor", "migrate", "--database-url", url],
                   cwd=REPO, capture_output=True, check=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "m.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"jobs", "job_events", "rate_limits", "schema_migrations"} <= tables


# -- AsyncClient, enqueue_many, wait and the typed errors ---------------------------------------

TASKS = '''\
import asyncio

from conveyor import PermanentError, task


@task("add")
async def add(payload: dict) -> dict:
    return {"sum": payload["a"] + payload["b"]}


@task("nap")
async def nap(payload: dict) -> dict:
    await asyncio.sleep(payload.get("seconds", 30))
    return {"slept": True}


@task("refuse")
def refuse(payload: dict) -> None:
    raise PermanentError("refused: " + payload.get("why", "no reason"))
'''


@pytest.fixture
def tasks_server(tmp_path: Path) -> Iterator[str]:
    """`conveyor up` with a task module of its own (`--import shop.tasks`)."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "tasks.py").write_text(TASKS)
    port = free_port()
    process = ConveyorProcess(["up", "--import", "shop.tasks"], {
        "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "PORT": str(port), "API_KEY": "k3y",
        "RATE_LIMIT_PER_MINUTE": "20", "WORKER_POLL_MS": "100", "LEASE_TIMEOUT_SEC": "3",
        "SHUTDOWN_GRACE_SEC": "1", "DASHBOARD_DIR": str(tmp_path), "PYTHONPATH": str(tmp_path),
    }, tmp_path / "up.log")
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/health", process)
    yield url
    process.stop()


def test_the_two_clients_have_the_same_methods() -> None:
    """Method for method, parameter for parameter: AsyncClient is Client, awaited."""
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {name: inspect.signature(member) for name, member in vars(cls).items()
                if callable(member) and not name.startswith("_")}

    sync, asynchronous = public(Client), public(AsyncClient)
    assert set(sync) == set(asynchronous)
    assert {"enqueue", "enqueue_many", "wait", "cancel", "retry", "get"} <= set(sync)
    for name, signature in sync.items():
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
        assert list(asynchronous[name].parameters.values()) == list(
            signature.parameters.values()), name
    init = inspect.signature(AsyncClient.__init__).parameters
    assert list(init) == list(inspect.signature(Client.__init__).parameters)


async def test_async_client_round_trip(tasks_server: str) -> None:
    async with AsyncClient(tasks_server, api_key="k3y", tenant="acme") as client:
        job = await client.enqueue("add", {"a": 2, "b": 3})
        done = await client.wait(job.id, timeout=15)
        assert done.status is JobStatus.DONE and done.result == {"sum": 5}

        # enqueue_many takes the producer API's own JobSpec; a key replays the whole batch.
        specs = [JobSpec("add", {"a": i, "b": i}, priority=i) for i in range(3)]
        specs.append(JobSpec("refuse", {"why": "testing"}, queue="default", max_retries=0))
        batch = await client.enqueue_many(specs, idempotency_key="batch-1")
        assert [(j.task, j.priority) for j in batch] == [
            ("add", 0), ("add", 1), ("add", 2), ("refuse", 0)]
        again = await client.enqueue_many(specs, idempotency_key="batch-1")
        assert [j.id for j in again] == [j.id for j in batch]
        finals = [await client.wait(j.id, timeout=15) for j in batch]
        assert [f.result for f in finals[:3]] == [{"sum": 0}, {"sum": 2}, {"sum": 4}]
        assert finals[3].status is JobStatus.FAILED
        assert finals[3].last_error is not None and "refused: testing" in finals[3].last_error

        # Cancel a running job; cancel it again (409); retry it, twice (409).
        napping = await client.enqueue("nap", {"seconds": 30}, timeout=60)
        deadline = time.monotonic() + 15
        while (await client.get(napping.id)).status is not JobStatus.RUNNING:
            assert time.monotonic() < deadline, "the nap never started"
            await asyncio.sleep(0.05)
        asked = await client.cancel(napping.id)
        assert asked.status is JobStatus.RUNNING and asked.cancel_requested_at is not None
        assert (await client.wait(napping.id, timeout=10)).status is JobStatus.CANCELLED
        with pytest.raises(InvalidTransition) as twice:
            await client.cancel(napping.id)
        assert isinstance(twice.value, InvalidTransitionError) and twice.value.status == 409
        retried = await client.retry(napping.id)
        assert retried.retry_of == napping.id
        await client.cancel(retried.id)
        with pytest.raises(InvalidTransitionError):
            await client.retry(napping.id)

        with pytest.raises(JobNotFound) as missing:
            await client.get(uuid4())
        assert isinstance(missing.value, NotFoundError) and missing.value.status == 404

        first = await client.enqueue("add", {"a": 1, "b": 1}, idempotency_key="k-1")
        replay = await client.enqueue("add", {"a": 1, "b": 1}, idempotency_key="k-1")
        assert replay.id == first.id
        with pytest.raises(IdempotencyConflict) as conflict:
            await client.enqueue("add", {"a": 1, "b": 2}, idempotency_key="k-1")
        assert isinstance(conflict.value, IdempotencyConflictError)
        assert conflict.value.code == "idempotency_conflict"

        later = await client.enqueue("add", {"a": 0, "b": 0}, delay_sec=3600)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="still pending"):
            await client.wait(later.id, timeout=0.5, interval=0.1)
        assert 0.5 <= time.monotonic() - started < 3


def test_client_errors_are_typed(tasks_server: str) -> None:
    with Client(tasks_server, api_key="wrong") as client, pytest.raises(Unauthorized) as denied:
        client.list()
    assert isinstance(denied.value, UnauthorizedError) and denied.value.status == 401
    with Client(tasks_server, api_key="k3y", tenant="odd") as client:
        with pytest.raises(InvalidPayload) as unstorable:
            client.enqueue("add", {"a": "NUL \x00 inside"})
        assert isinstance(unstorable.value, InvalidPayloadError)
        assert unstorable.value.code == "invalid_payload" and "payload.a" in str(unstorable.value)
    with Client(tasks_server, api_key="k3y", tenant="burst") as client:
        # A batch over the per-minute limit could never pass: 422, not 429.
        with pytest.raises(InvalidSubmission) as too_big:
            client.enqueue_many([JobSpec("add", {"a": 1, "b": 1})] * 21)
        assert isinstance(too_big.value, InvalidRequestError) and too_big.value.status == 422
        assert len(client.enqueue_many([JobSpec("add", {"a": 1, "b": 1})] * 20)) == 20
        with pytest.raises(RateLimited) as limited:
            client.enqueue("add", {"a": 1, "b": 1})
    error = limited.value
    assert isinstance(error, RateLimitedError) and isinstance(error, ClientError)
    assert error.status == 429 and error.code == "rate_limited"
    assert error.retry_after is not None and error.retry_after >= 1
    assert not error.message.startswith("429"), "message is the API's, as RateLimited's is"


@contextlib.contextmanager
def _refusing_connections(database_url: str) -> Iterator[None]:
    """The database stops accepting connections and its sessions are ended: a store that
    went away, for real."""
    import psycopg

    from tests.pgsupport import server_url

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.mark.postgres
def test_an_unreachable_store_is_a_typed_503(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    process = ConveyorProcess(["api"], {
        "DATABASE_URL": f"{postgres_url}?pool_timeout=1", "PORT": str(port),
        "DASHBOARD_DIR": str(tmp_path), "LOG_LEVEL": "warning",
    }, tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/health", process)
        with Client(url) as client:
            job = client.submit_text("Hi")
            with _refusing_connections(postgres_url), pytest.raises(StoreUnavailable) as down:
                client.get(job.id)
            assert isinstance(down.value, UnavailableError) and down.value.status == 503
            assert down.value.retry_after == 5
            deadline = time.monotonic() + 15
            while True:  # the pool reconnects once the database takes connections again
                try:
                    assert client.get(job.id).id == job.id
                    break
                except UnavailableError:
                    assert time.monotonic() < deadline, process.logs()
                    time.sleep(0.2)
    finally:
        process.stop()


# -- the console script: flags, the working directory, one-line errors ------------------------

SCRIPT = Path(sys.executable).with_name("conveyor")
SHOUT = '''\
from conveyor import task


@task("shout")
def shout(payload: dict) -> dict:
    return {"loud": payload["text"].upper()}
'''


def _environment(**env: str) -> dict[str, str]:
    """This environment without anything that would make a test pass for the wrong reason
    (a PYTHONPATH reaching the task module, a DATABASE_URL or PORT of the developer's)."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "DATABASE_URL", "PORT", "HOST", "LOG_LEVEL", "API_KEY",
                           "DASHBOARD_DIR")}
    return {**base, "PYTHONUNBUFFERED": "1", **env}


def _run(args: list[str], cwd: Path, timeout: float = 60, **env: str
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=_environment(**env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_console_script_runs_tasks_from_the_working_directory(tmp_path: Path) -> None:
    """`conveyor up --import myapp.tasks` in the project's folder, as with `celery -A`: the
    console script finds ./myapp, and `--log-level debug` beats LOG_LEVEL=error."""
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "tasks.py").write_text(SHOUT)
    port = free_port()
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "up", "--import", "myapp.tasks", "--port", str(port),
             "--database-url", f"sqlite:///{tmp_path}/c.db", "--log-level", "debug"],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            env=_environment(LOG_LEVEL="error", WORKER_POLL_MS="100",
                             DASHBOARD_DIR=str(tmp_path)))
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log_path.read_text()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            with Client(url) as client:
                job = client.enqueue("shout", {"text": "hi"})
                assert client.wait(job.id, timeout=15).result == {"loud": "HI"}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
    events = [json.loads(line) for line in log_path.read_text().splitlines()
              if line.startswith("{")]
    assert "job_started" in {e.get("event") for e in events}, "no debug line: --log-level lost"


def test_every_command_takes_log_level_and_the_version_is_the_package_s(tmp_path: Path) -> None:
    for command in ("up", "api", "worker", "migrate"):
        text = _run([command, "--help"], tmp_path).stdout
        assert "--log-level" in text and "--wait-for-database" in text, command
    version = _run(["--version"], tmp_path)
    assert version.returncode == 0
    assert version.stdout == f"conveyor, version {conveyor.__version__}\n"
    quiet = _run(["migrate", "--database-url", f"sqlite:///{tmp_path}/q.db", "--log-level",
                  "error"], tmp_path, LOG_LEVEL="debug")
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stdout
    loud = _run(["migrate", "--database-url", f"sqlite:///{tmp_path}/q.db"], tmp_path,
                LOG_LEVEL="info")
    assert '"event": "migrated"' in loud.stdout


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://root@localhost/jobs", "unsupported scheme 'mysql'"),
    ("data/conveyor.db", "is not a URL"),
    ("sqlite:conveyor.db", "an SQLite URL is sqlite:///relative.db"),
    ("postgresql://app:s3cret@localhost:port/jobs", "is malformed"),
    ("postgresql://app@localhost/jobs?pool_max_size=lots", "invalid conveyor parameter"),
])
def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    line = _assert_one_line_error(
        _run(["up", "--database-url", url, "--port", str(free_port())], tmp_path), says)
    assert "s3cret" not in line


def test_every_command_checks_the_database_url(tmp_path: Path) -> None:
    for command in ("api", "worker", "migrate"):
        _assert_one_line_error(_run([command], tmp_path, DATABASE_URL="redis://localhost"),
                               "unsupported scheme 'redis'")
    _assert_one_line_error(_run(["api"], tmp_path, PORT="eighty"), "invalid setting PORT")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://conveyor@127.0.0.1:{port}/nothing"
    _assert_one_line_error(
        _run(["up", "--database-url", url, "--wait-for-database", "0",
              "--port", str(free_port())], tmp_path),
        "cannot reach the database", f"127.0.0.1:{port}", "waited 0 s")
    started = time.monotonic()
    patient = _run(["worker", "--database-url", url, "--wait-for-database", "1.5"], tmp_path)
    _assert_one_line_error(patient, "cannot reach the database", "waited 1.5 s")
    assert time.monotonic() - started >= 1.0, "gave up without waiting"
    waits = [json.loads(line) for line in patient.stdout.splitlines() if line.startswith("{")]
    assert sum(w.get("event") == "store_unavailable" for w in waits) >= 2, patient.stdout


def test_a_port_in_use_is_one_line_before_the_database_is_touched(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["up", "--port", str(port), "--database-url",
                       f"sqlite:///{tmp_path}/p.db"], tmp_path)
    _assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use")
    assert not (tmp_path / "p.db").exists()


def test_a_task_module_that_does_not_import_is_one_line(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/i.db"
    _assert_one_line_error(
        _run(["worker", "--import", "nosuch.tasks", "--database-url", database], tmp_path),
        "cannot import task module 'nosuch.tasks'", "No module named 'nosuch'")
    (tmp_path / "broken.py").write_text("import json\nraise RuntimeError('half-written')\n")
    _assert_one_line_error(
        _run(["api", "--import", "broken", "--database-url", database,
              "--port", str(free_port())], tmp_path),
        "cannot import task module 'broken'", "RuntimeError: half-written", "line 2")
    (tmp_path / "needy.py").write_text("import not_installed_anywhere\n")
    _assert_one_line_error(
        _run(["up", "--import", "needy", "--database-url", database], tmp_path),
        "ModuleNotFoundError: No module named 'not_installed_anywhere'", "needy.py, line 1")
    assert not (tmp_path / "i.db").exists(), "imports are checked before the database"


def test_the_queues_commands_over_the_api(server: str, tmp_path: Path) -> None:
    with Client(server, api_key="k3y", tenant="ops-cli") as client:
        client.enqueue("text", {"text": "x"}, queue="mail", delay_sec=600)
    paused = _run(["queues", "pause", "mail", "--url", server, "--json"], tmp_path,
                  API_KEY="k3y")
    assert paused.returncode == 0, paused.stderr
    [queue] = json.loads(paused.stdout)
    assert (queue["name"], queue["paused"], queue["scheduled"]) == ("mail", True, 1)
    listed = _run(["queues", "list"], tmp_path, API_KEY="k3y", CONVEYOR_URL=server)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["queue", "state", "pending"]
    assert [row.split()[:2] for row in rows if row.startswith("mail")] == [["mail", "paused"]]
    resumed = _run(["queues", "resume", "mail", "--url", server, "--api-key", "k3y", "--json"],
                   tmp_path)
    assert json.loads(resumed.stdout)[0]["paused"] is False
    denied = _run(["queues", "list", "--url", server, "--api-key", "wrong"], tmp_path)
    _assert_one_line_error(denied, "401")
    unreachable = _run(["queues", "list", "--url", "http://127.0.0.1:9"], tmp_path)
    _assert_one_line_error(unreachable, "cannot reach the API")
