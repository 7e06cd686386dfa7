"""PostgreSQL for tests: a fresh database per test, cloned from a template migrated once.

`CREATE DATABASE … TEMPLATE …` copies the migrated schema in a few tens of milliseconds, so
every test starts from an empty, fully migrated database of its own and tests never see each
other's rows (STYLE.md §5). The server comes from CONVEYOR_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres). When nothing answers there the test is
skipped with the reason, unless CONVEYOR_REQUIRE_POSTGRES=1 (CI), where it fails instead.

Databases are named `conveyor_test_<pid>_<n>` and the template `conveyor_tpl_<pid>`; both are
dropped when done. Leftovers of killed test runs on a local server are swept at start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import itertools
import os
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_LEFTOVER = re.compile(r"^conveyor_(?:test|tpl)_(\d+)(?:_\d+)?$")

_lock = threading.Lock()
_template: str | None = None
_unreachable: str | None = None
_numbers = itertools.count(1)


def server_url() -> str:
    """The maintenance database URL (CONVEYOR_TEST_POSTGRES_URL)."""
    return os.environ.get("CONVEYOR_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)


def database_url(name: str) -> str:
    """`server_url()` with its database replaced by `name`."""
    parts = urlsplit(server_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_url(), autocommit=True, connect_timeout=3)


def require_postgres() -> None:
    """Skip (or, with CONVEYOR_REQUIRE_POSTGRES=1, fail) the test when no server answers."""
    global _unreachable
    if _unreachable is None:
        try:
            with _admin() as conn:
                conn.execute("SELECT 1")
            _unreachable = ""
        except psycopg.OperationalError as exc:
            _unreachable = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if _unreachable:
        message = f"PostgreSQL not reachable at {_redacted(server_url())}: {_unreachable}"
        if os.environ.get("CONVEYOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _drop(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sweep_leftovers(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Drop databases of earlier test processes that no longer run (a SIGKILLed pytest).
    Only on a server on this host: a pid means nothing on another machine."""
    host = urlsplit(server_url()).hostname or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1"):
        return
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'conveyor\\_%'")
    for (name,) in rows.fetchall():
        match = _LEFTOVER.match(str(name))
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            with contextlib.suppress(psycopg.Error):
                if str(name).startswith("conveyor_tpl_"):
                    conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
                _drop(conn, str(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _migrate(url: str) -> None:
    """Run the driver's async migration on a thread of its own, so this works whether or not
    the caller's thread already runs an event loop."""
    from conveyor.store.postgres.migrate import migrate_postgres

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(migrate_postgres(url))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="conveyor-test-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def template_database() -> str:
    """The migrated template's name; created on first use in this process."""
    global _template
    require_postgres()
    with _lock:
        if _template is None:
            name = f"conveyor_tpl_{os.getpid()}"
            with _admin() as conn:
                _sweep_leftovers(conn)
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
                _drop(conn, name)
                conn.execute(f'CREATE DATABASE "{name}"')
            _migrate(database_url(name))
            with _admin() as conn:
                # No connections: autovacuum then leaves it alone, so cloning never finds
                # the template "being accessed by other users".
                conn.execute(
                    f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false'
                )
            _template = name
            atexit.register(_drop_template, name)
        return _template


def _drop_template(name: str) -> None:
    with contextlib.suppress(psycopg.Error), _admin() as conn:
        conn.execute(f'ALTER DATABASE "{name}" IS_TEMPLATE false')
        _drop(conn, name)


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A URL of a new, migrated, empty database, dropped (connections and all) afterwards."""
    template = template_database()
    name = f"conveyor_test_{os.getpid()}_{next(_numbers)}"
    with _admin() as conn:
        _drop(conn, name)
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield database_url(name)
    finally:
        with _admin() as conn:
            _drop(conn, name)


@contextlib.contextmanager
def empty_postgres_database() -> Iterator[str]:
    """A URL of a new database with no schema at all (for migration tests)."""
    require_postgres()
    name = f"conveyor_test_{os.getpid()}_{next(_numbers)}"
    with _admin() as conn:
        _drop(conn, name)
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with _admin() as conn:
            _drop(conn, name)


@contextlib.asynccontextmanager
async def fresh_postgres_url() -> AsyncIterator[str]:
    """`fresh_postgres_database` for async code (the blocking DDL runs on a thread)."""
    manager = fresh_postgres_database()
    url = await asyncio.to_thread(manager.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


async def until(
    predicate: Callable[[], Awaitable[bool]] | Callable[[], bool],
    timeout: float = 5.0,
    message: str = "condition not met",
) -> None:
    """Poll `predicate` (sync or async) every 10 ms until it is true; fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > deadline:
            pytest.fail(f"{message} within {timeout} s")
        await asyncio.sleep(0.01)
