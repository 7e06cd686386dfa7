"""Where the benchmarks run: fresh databases, the machine's description, CPU accounting.

Each scenario gets an empty database of its own, so a drain never steps over the rows (and
dead tuples) an enqueue test left behind. SQLite: a new file in a temporary directory.
PostgreSQL: `CREATE DATABASE … TEMPLATE` from a template migrated once per run, on the
server at `--postgres-url` (default `postgresql://postgres@127.0.0.1:5432/postgres`); every
database is dropped afterwards, and leftovers of a killed run are swept at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import platform
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def ensure_local(url: str) -> None:
    """Benchmarks send traffic only to this machine: refuse any other server."""
    host = urlsplit(url).hostname or "localhost"
    if host not in _LOCAL_HOSTS:
        raise SystemExit(f"refusing to benchmark against a non-local server ({host})")


class Databases:
    """Hands out fresh databases for one store kind ("sqlite" or "postgres")."""

    def __init__(self, kind: str, postgres_url: str) -> None:
        self.kind = kind
        self.postgres_url = postgres_url
        self._numbers = itertools.count(1)
        self._tmp = tempfile.TemporaryDirectory(prefix="conveyor-bench-")
        self._template: str | None = None
        self._created: list[str] = []

    @property
    def tmp(self) -> Path:
        return Path(self._tmp.name)

    def _url_for(self, name: str) -> str:
        parts = urlsplit(self.postgres_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=3)

    def new(self) -> str:
        """A DATABASE_URL for an empty, migrated database."""
        number = next(self._numbers)
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'bench-{number}.db'}"
        if self._template is None:
            self._template = self._make_template()
        name = f"conveyor_bench_{os.getpid()}_{number}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._created.append(name)
        return self._url_for(name)

    def drop(self, url: str) -> None:
        """Drop a database handed out by `new` (a no-op for SQLite: the directory goes)."""
        if self.kind != "postgres":
            return
        name = urlsplit(url).path.lstrip("/")
        with contextlib.suppress(psycopg.Error), self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self._created.remove(name)

    def _make_template(self) -> str:
        name = f"conveyor_bench_{os.getpid()}_tpl"
        with self._admin() as conn:
            sweep_leftovers(conn)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        _migrate_in_thread(self._url_for(name))
        with self._admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        return name

    def close(self) -> None:
        if self._created:
            with contextlib.suppress(psycopg.Error), self._admin() as conn:
                for name in list(self._created):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.clear()
        self._tmp.cleanup()


def sweep_leftovers(conn: psycopg.Connection[tuple[Any, ...]],
                    prefix: str = "conveyor_bench") -> None:
    """Drop databases of earlier bench runs whose process is gone (killed mid-run): those
    named `<prefix>_<pid>_…`, whatever the run that made them."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)_\w+$")
    like = prefix.replace("_", "\\_") + "\\_%"
    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                (like,)).fetchall():
        match = pattern.match(str(name))
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            with contextlib.suppress(psycopg.Error):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_quiet(max_wait: float) -> float:
    """Wait (up to `max_wait` s) until the machine is under 15 % busy; return the last
    reading. Other people's test runs on a 2-core machine halve a throughput figure."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy(0.5)
    warned = False
    while busy > 0.15 and time.monotonic() < deadline:
        if not warned:
            print(f"machine {busy:.0%} busy: waiting up to {max_wait:.0f} s for it to quiet "
                  "down", flush=True)
            warned = True
        busy = machine_busy(2.0)
    return busy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _migrate_in_thread(url: str) -> None:
    """Open (and so migrate) the store once, on a thread with its own event loop."""
    from conveyor.store import open_store

    errors: list[BaseException] = []

    async def migrate() -> None:
        async with open_store(url):
            pass

    def run() -> None:
        try:
            asyncio.run(migrate())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="bench-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def postgres_available(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return None


# -- the machine ---------------------------------------------------------------------------------


def machine_info(postgres_url: str | None) -> dict[str, Any]:
    """What the figures were measured on, for the JSON and the README."""
    cpu = "unknown"
    family = model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name" and cpu == "unknown":
                cpu = value
            elif key == "cpu family" and family is None:
                family = value
            elif key == "model" and model is None:
                model = value
    memory_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpu_family": family,
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "conveyor_source": _conveyor_source(),
        "conveyor_commit": _git("rev-parse", "--short", "HEAD"),
        "conveyor_dirty": bool(_git("status", "--porcelain", "--", "src")),
        "load_average_at_start": os.getloadavg(),
    }
    if postgres_url is not None and postgres_available(postgres_url) is None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgres"] = row[0] if row else None
            for setting in ("synchronous_commit", "shared_buffers", "max_connections"):
                row = conn.execute(f"SHOW {setting}").fetchone()
                info[f"postgres_{setting}"] = row[0] if row else None
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    return info


def _conveyor_source() -> str:
    """Which conveyor is measured: this repository's src/ (commit and dirty flag apply) or
    another checkout put first on PYTHONPATH."""
    import conveyor

    where = Path(conveyor.__file__).resolve().parents[1]
    return "repository src/" if where == REPO / "src" else str(where)


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    return ""


# -- CPU accounting ------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def process_rss_mib(pid: int) -> float | None:
    """Resident set size of one process in MiB (`VmRSS`), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


_DATABASE_COMMANDS = ("postgres", "redis-server")


def _database_pids() -> list[int]:
    """The PostgreSQL server's processes (and Redis's, for the peer comparison)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in _DATABASE_COMMANDS:
                    pids.append(int(entry.name))
    return pids


@dataclass
class CpuSnapshot:
    """CPU seconds spent so far by each part: the worker or API processes we started, the
    database server (PostgreSQL; Redis for huey), this process, and the machine as a whole
    (busy and total)."""

    children: dict[int, float]
    database: dict[int, float]
    bench: float
    machine_busy: float
    machine_total: float


def cpu_snapshot(children: list[int]) -> CpuSnapshot:
    times = os.times()
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return CpuSnapshot(
        children={pid: _process_cpu(pid) for pid in children},
        database={pid: _process_cpu(pid) for pid in _database_pids()},
        bench=times.user + times.system,
        machine_busy=(sum(fields) - idle) / _TICKS,
        machine_total=sum(fields) / _TICKS,
    )


def cpu_between(
    before: CpuSnapshot, after: CpuSnapshot, client: float | None = None
) -> dict[str, float]:
    """CPU seconds each part used between two snapshots; `machine_busy` as a fraction.
    `client`: CPU seconds of a load generator the bench ran meanwhile (wrk), which is ours
    too, not other people's."""

    def spent(a: dict[int, float], b: dict[int, float]) -> float:
        return sum(max(0.0, b[pid] - a.get(pid, 0.0)) for pid in b)

    total = after.machine_total - before.machine_total
    busy = after.machine_busy - before.machine_busy
    ours = {
        "workers_or_api": spent(before.children, after.children),
        "database": spent(before.database, after.database),
        "bench": after.bench - before.bench,
    }
    if client is not None:
        ours["client"] = client
    return {
        **{part: round(seconds, 3) for part, seconds in ours.items()},
        # CPU that none of the above used: other work on the machine (tests, builds) or the
        # kernel's own. Large values mean the figure was disturbed.
        "other": round(max(0.0, busy - sum(ours.values())), 3),
        "other_fraction": round(
            max(0.0, busy - sum(ours.values())) / total if total > 0 else 0.0, 3
        ),
        "machine_busy_fraction": round(busy / total if total > 0 else 0.0, 3),
    }


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over the next `seconds` (before a run: is anyone else
    using the machine?)."""
    before = cpu_snapshot([])
    time.sleep(seconds)
    after = cpu_snapshot([])
    total = after.machine_total - before.machine_total
    return (after.machine_busy - before.machine_busy) / total if total > 0 else 0.0
