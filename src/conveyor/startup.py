"""Why a process cannot start, in one line: the checks `conveyor up | api | worker |
migrate` make before they run, each raising `StartupError` with what is wrong and what to
do about it.

A bad DATABASE_URL, a database that does not answer, a port in use and a task module that
does not import are the operator's to fix, so the CLI prints the reason and exits 1 instead
of a traceback. They are checked before anything starts, in the order that fails fastest:
the URL, the task modules, the port, then the database (which may be waited for).
"""

from __future__ import annotations

import errno
import importlib
import socket
import sqlite3
import traceback
from collections.abc import Sequence
from urllib.parse import urlsplit

from conveyor.errors import StartupError, StoreError, StoreUnavailable
from conveyor.store import connect_store_patiently
from conveyor.store.base import Store

POSTGRES_EXTRA = "pip install 'conveyor[postgres]'"
WAIT_FOR_DATABASE_SEC = 300.0
"""How long a starting API or worker waits for a database that does not answer yet (started
at the same time, or restarting) before it gives up; `--wait-for-database` changes it."""
_URL_FORMS = "sqlite:///path/to/file.db or postgresql://user@host:5432/db"


def one_line(text: str) -> str:
    """Driver messages span lines (libpq adds hints on a second one)."""
    return " ".join(text.split())


def where(url: str) -> str:
    """The database a URL names, for messages: never its user or password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def check_database_url(url: str) -> None:
    """Refuse a DATABASE_URL that no driver could open, and a PostgreSQL one without the
    driver installed, before anything waits for the database."""
    scheme, colon, rest = url.partition(":")
    if not colon or not scheme:
        raise StartupError(f"DATABASE_URL {url!r} is not a URL; use {_URL_FORMS}")
    kind = scheme.split("+", 1)[0].lower()
    if kind == "sqlite":
        if not rest.startswith("//") or not rest[2:].lstrip("/"):
            raise StartupError(f"DATABASE_URL {url!r}: an SQLite URL is sqlite:///relative.db "
                               "or sqlite:////absolute/path.db")
        return
    if kind not in ("postgresql", "postgres"):
        raise StartupError(f"DATABASE_URL: unsupported scheme {scheme!r}; use {_URL_FORMS}")
    _check_postgres_url(url)


def _check_postgres_url(url: str) -> None:
    try:
        urlsplit(url).port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise StartupError(f"DATABASE_URL {where(url)!r} is malformed: {exc}") from None
    try:
        import psycopg
        import psycopg_pool  # noqa: F401  (the driver needs both)
    except ImportError as exc:  # not installed, or psycopg without a libpq to bind
        raise StartupError(f"DATABASE_URL is PostgreSQL, but its driver is not installed "
                           f"({exc}): {POSTGRES_EXTRA}") from None

    from conveyor.store.postgres.conninfo import parse_postgres_url

    try:
        parse_postgres_url(url)
    except (ValueError, psycopg.Error) as exc:
        raise StartupError(f"DATABASE_URL {where(url)!r} is malformed: {one_line(str(exc))}"
                           ) from None


def import_modules(names: Sequence[str]) -> None:
    """Import the `--import` modules (the registry then finds them imported), so a module
    that is missing, or raises while importing, is reported as the one line that says which
    and why."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise StartupError(f"cannot import task module {name!r}: "
                               f"{_import_failure(name, exc)}") from exc


def _import_failure(name: str, exc: BaseException) -> str:
    """`No module named 'myapp'`, or the error and the line of the module that raised it."""
    if isinstance(exc, ModuleNotFoundError) and exc.name and (
            name == exc.name or name.startswith(f"{exc.name}.")):
        return f"{exc} (looked in the working directory and on sys.path)"
    if isinstance(exc, SyntaxError):
        return one_line(f"SyntaxError: {exc}")
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return one_line(f"{type(exc).__name__}: {exc}{place}")


def bind(host: str, port: int) -> socket.socket:
    """The listening address, taken before the database is waited for: a port in use is
    then said at once, and never after a successful migration."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use (another conveyor?); "
                               "choose another with --port or PORT") from None
        raise StartupError(f"cannot listen on {host}:{port}: "
                           f"{exc.strerror or exc}") from None
    return sock


async def open_store(url: str, wait_sec: float) -> Store:
    """The store, waiting up to `wait_sec` for a database that does not answer yet (one
    started at the same time, or restarting); then the reason it could not be opened."""
    try:
        return await connect_store_patiently(url, give_up_after_sec=wait_sec)
    except StoreUnavailable as exc:
        waited = f"waited {wait_sec:g} s; --wait-for-database sets how long"
        raise StartupError(f"cannot reach the database: {one_line(exc.message)} ({waited})"
                           ) from exc
    except StoreError as exc:  # e.g. a migration failed, or the schema is newer than we are
        raise StartupError(f"the database at {where(url)}: {one_line(exc.message)}") from exc
    except (OSError, sqlite3.Error) as exc:  # SQLite: a directory or file it cannot open
        raise StartupError(f"cannot open the database {where(url)}: {one_line(str(exc))}"
                           ) from exc
