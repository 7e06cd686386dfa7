"""The wheel, as a user gets it: `python -m build` (the sdist, then the wheel from it), a
fresh virtualenv, `pip install conveyor-*.whl`, and `conveyor up` in an empty folder serves
the dashboard at `/`, runs a job, and says which extra a PostgreSQL URL needs.

Slow (two isolated builds and an install: a minute or two) and needs the built dashboard
(`make dashboard`; `make test` builds it first)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

import conveyor
from conveyor.client import Client
from tests.processes import REPO, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DIST = REPO / "dashboard" / "dist"


def _environment(**env: str) -> dict[str, str]:
    """No PYTHONPATH or VIRTUAL_ENV of this test run: the installed package must stand alone."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "PORT", "HOST",
                           "DASHBOARD_DIR", "API_KEY", "LOG_LEVEL")}
    return {**base, "PYTHONUNBUFFERED": "1", **env}


def _run(args: list[str | Path], *, cwd: Path | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True,
                            text=True, env=_environment(), timeout=timeout, check=False)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (DIST / "index.html").is_file():
        pytest.fail(f"{DIST} is not built: run `make dashboard` first")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, REPO], timeout=600)
    [built] = out.glob("conveyor-*-py3-none-any.whl")
    return built


@dataclass
class Installed:
    bin: Path
    home: Path  # an empty working directory: nothing of the checkout is near it


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], timeout=600)
    home = root / "home"
    home.mkdir()
    return Installed(venv / "bin", home)


def test_the_wheel_ships_the_dashboard_and_the_driver_is_an_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert "conveyor/dashboard/index.html" in names
    # Every asset the built index.html loads is inside.
    assets = re.findall(r'(?:src|href)="/(assets/[^"]+)"', (DIST / "index.html").read_text())
    assert assets and all(f"conveyor/dashboard/{asset}" in names for asset in assets), assets
    assert "conveyor/py.typed" in names and "conveyor/cli/__init__.py" in names
    assert not any(n.startswith(("tests/", "bench/", "dashboard/", "src/")) for n in names)
    assert metadata["Version"] == conveyor.__version__
    assert "postgres" in metadata.get_all("Provides-Extra", [])
    requires = metadata.get_all("Requires-Dist", [])
    psycopg = [r for r in requires if r.startswith("psycopg")]
    # Only ever behind an extra: `postgres`, and `test`, which includes it.
    assert all("; extra == " in r for r in psycopg), requires
    assert {r.split(";")[0] for r in psycopg if r.endswith("extra == 'postgres'")} == {
        "psycopg[binary]<4,>=3.2", "psycopg-pool<4,>=3.2"}, requires


@pytest.fixture
def up(installed: Installed, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [installed.bin / "conveyor", "up"], cwd=installed.home, stdout=log,
            stderr=subprocess.STDOUT,
            env=_environment(PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path}/w.db",
                             TEXT_SECONDS_PER_CHAR="0.01", WORKER_POLL_MS="100"))
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def test_pip_install_then_conveyor_up_serves_the_dashboard(installed: Installed,
                                                           up: str) -> None:
    where = _run([installed.bin / "python", "-c", "import conveyor; print(conveyor.__file__)"],
                 cwd=installed.home).stdout.strip()
    assert Path(where).is_relative_to(installed.bin.parent), "imported from the checkout"
    page = httpx.get(f"{up}/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "not built" not in page.text
    config = re.search(r'<script id="conveyor-config" type="application/json">(.*?)</script>',
                       page.text)
    assert config and json.loads(config.group(1))["version"] == conveyor.__version__
    [script] = re.findall(r'<script[^>]+src="(/assets/[^"]+\.js)"', page.text)
    asset = httpx.get(f"{up}{script}")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert asset.content == (DIST / script.lstrip("/")).read_bytes()
    with Client(up) as client:
        job = client.submit_text("wheel")
        assert client.wait(job.id, timeout=20).status.value == "done"
    version = _run([installed.bin / "conveyor", "--version"], cwd=installed.home)
    assert version.stdout == f"conveyor, version {conveyor.__version__}\n"


def test_without_the_extra_a_postgres_url_names_it(installed: Installed) -> None:
    url = "postgresql://conveyor@127.0.0.1:5432/conveyor"
    cli = subprocess.run([installed.bin / "conveyor", "migrate", "--database-url", url],
                         cwd=installed.home, capture_output=True, text=True,
                         env=_environment(), timeout=60, check=False)
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    assert cli.stderr.strip().splitlines() == [
        "Error: DATABASE_URL is PostgreSQL, but its driver is not installed (No module named "
        "'psycopg'): pip install 'conveyor[postgres]'"], cli.stderr
    library = subprocess.run(
        [installed.bin / "python", "-c",
         f"import asyncio, conveyor.store as s; asyncio.run(s.connect_store({url!r}))"],
        cwd=installed.home, capture_output=True, text=True, env=_environment(), timeout=60,
        check=False)
    assert library.returncode == 1
    assert "ModuleNotFoundError: a PostgreSQL DATABASE_URL needs the driver: pip install " \
           "'conveyor[postgres]'" in library.stderr, library.stderr
