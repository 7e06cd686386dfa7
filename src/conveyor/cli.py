"""`conveyor up | api | worker | migrate`. Flags override the environment and `.env`.

What an operator must fix before a process can start (a bad DATABASE_URL or setting, an
unreachable database, a port in use, a task module that does not import) is a
`StartupError`: printed as one line on stderr (`Error: …`), exit status 1, no traceback.

`--import myapp.tasks` finds modules in the working directory, as `celery -A` and `rq` do:
the console script's `sys.path` starts at its own bin directory, not at the project.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from conveyor import __version__
from conveyor.config import Settings
from conveyor.errors import StartupError
from conveyor.logging import configure_logging, get_logger
from conveyor.startup import WAIT_FOR_DATABASE_SEC

if TYPE_CHECKING:
    from conveyor.tasks import TaskRegistry

log = get_logger("conveyor.cli")
F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")


class _Main(click.Group):
    """The command group, turning a `StartupError` into click's one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StartupError as exc:
            raise click.ClickException(exc.message) from exc


def _settings(**overrides: Any) -> Settings:
    """The settings, with the flags given (not None) winning over the environment; a bad
    value, from either, is a one-line error naming the setting."""
    try:
        settings = Settings(**{key: value for key, value in overrides.items()
                               if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        raise StartupError(f"invalid setting {name}: {first['msg']}") from None
    configure_logging(settings.log_level)
    return settings


def _queues(value: str) -> list[str]:
    queues = [q.strip() for q in value.split(",") if q.strip()]
    if not queues:
        raise click.BadParameter("give at least one queue name")
    return queues


def _importable_from_cwd() -> None:
    """Put the working directory first on `sys.path` (where `python -m` puts it), so
    `--import myapp.tasks` finds `./myapp/tasks.py` from the `conveyor` script too."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _registry(settings: Settings, imports: tuple[str, ...]) -> TaskRegistry:
    from conveyor import runtime, startup

    _importable_from_cwd()
    startup.import_modules(imports)
    return runtime.build_registry(settings, imports)


_database = click.option("--database-url", envvar=None, default=None,
                         help="Overrides DATABASE_URL.")
_imports = click.option("--import", "imports", multiple=True, metavar="MODULE",
                        help="Import a module that registers tasks (repeatable); found in "
                             "the working directory too.")
_queues_option = click.option("--queues", default="default", show_default=True,
                              help="Comma-separated queues to take jobs from.")
_log_level = click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
                          default=None, help="Overrides LOG_LEVEL.")


def _wait_option(default: float) -> Callable[[F], F]:
    return click.option(
        "--wait-for-database", "wait_for_database", type=click.FloatRange(min=0),
        default=default, show_default=True, metavar="SECONDS",
        help="How long to wait for a database that does not answer before giving up.")


def _common(wait_default: float) -> Callable[[F], F]:
    def apply(command: F) -> F:
        # Applied inside out, so `--help` lists them as --database-url, --log-level, --wait-….
        for option in (_wait_option(wait_default), _log_level, _database):
            command = option(command)
        return command

    return apply


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """conveyor: a distributed task queue and job processor."""


@main.command()
@click.option("--host", default=None, help="Overrides HOST.")
@click.option("--port", type=int, default=None, help="Overrides PORT.")
@click.option("--concurrency", type=int, default=None, help="Overrides WORKER_CONCURRENCY.")
@_common(WAIT_FOR_DATABASE_SEC)
@_imports
@_queues_option
def up(host: str | None, port: int | None, concurrency: int | None, database_url: str | None,
       log_level: str | None, wait_for_database: float, imports: tuple[str, ...],
       queues: str) -> None:
    """API and one worker in one process: the quickest start."""
    settings = _settings(host=host, port=port, worker_concurrency=concurrency,
                         database_url=database_url, log_level=log_level)
    from conveyor import runtime

    runtime.serve(settings, _registry(settings, imports), run_worker=True,
                  queues=_queues(queues), wait_for_database=wait_for_database)


@main.command()
@click.option("--host", default=None, help="Overrides HOST.")
@click.option("--port", type=int, default=None, help="Overrides PORT.")
@_common(WAIT_FOR_DATABASE_SEC)
@_imports
def api(host: str | None, port: int | None, database_url: str | None, log_level: str | None,
        wait_for_database: float, imports: tuple[str, ...]) -> None:
    """The REST + WebSocket API alone (stateless: run as many as you like)."""
    settings = _settings(host=host, port=port, database_url=database_url, log_level=log_level)
    from conveyor import runtime

    runtime.serve(settings, _registry(settings, imports), run_worker=False,
                  queues=["default"], wait_for_database=wait_for_database)


@main.command()
@click.option("--concurrency", type=int, default=None, help="Overrides WORKER_CONCURRENCY.")
@_common(WAIT_FOR_DATABASE_SEC)
@_imports
@_queues_option
def worker(concurrency: int | None, database_url: str | None, log_level: str | None,
           wait_for_database: float, imports: tuple[str, ...], queues: str) -> None:
    """A worker process. SIGTERM: stop leasing, finish or hand back running jobs."""
    settings = _settings(worker_concurrency=concurrency, database_url=database_url,
                         log_level=log_level)
    from conveyor import runtime

    tasks = _registry(settings, imports)
    asyncio.run(runtime.run_worker(settings, tasks, _queues(queues),
                                   wait_for_database=wait_for_database))


@main.command()
@_common(0.0)
def migrate(database_url: str | None, log_level: str | None, wait_for_database: float) -> None:
    """Bring the database schema up to date (also done on every start)."""
    settings = _settings(database_url=database_url, log_level=log_level)
    from conveyor import startup

    async def run() -> None:
        startup.check_database_url(settings.database_url)
        store = await startup.open_store(settings.database_url, wait_for_database)
        await store.close()

    asyncio.run(run())
    log.info("migrated", database=startup.where(settings.database_url))


# -- operator commands, over the API ------------------------------------------------------------

def _api_options(command: F) -> F:
    """Where the API is and how to reach it: `--url` (CONVEYOR_URL), `--api-key` (API_KEY),
    and `--json` for machine-readable output."""
    command = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table.")(command)
    command = click.option("--api-key", envvar="API_KEY", default=None,
                           help="The API key (env API_KEY).")(command)
    command = click.option("--url", envvar="CONVEYOR_URL", default="http://127.0.0.1:8000",
                           show_default=True, help="The API's address (env CONVEYOR_URL).")(command)
    return command


@contextlib.contextmanager
def _client(url: str, api_key: str | None) -> Iterator[Any]:
    """A `Client` whose failures (an error answer, an unreachable API) are one line."""
    import httpx

    from conveyor.client import Client, ClientError

    try:
        with Client(url, api_key=api_key) as client:
            yield client
    except ClientError as exc:
        raise click.ClickException(f"{exc.status} {exc.code}: {exc.message}") from exc
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the API at {url}: {exc}") from exc


def _print_queues(queues: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([queue.model_dump(mode="json") for queue in queues], indent=2))
        return
    columns = ("queue", "state", "pending", "scheduled", "running", "oldest", "done/min",
               "failed/min")
    rows = [(q.name, "paused" if q.paused else "running", q.pending, q.scheduled, q.running,
             "-" if q.oldest_pending_age_sec is None else f"{q.oldest_pending_age_sec:.0f} s",
             q.done_last_minute, q.failed_last_minute) for q in queues]
    widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows,
                                                                        strict=False)]
    for row in (columns, *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths,
                                                                           strict=True)))


@main.group()
def queues() -> None:
    """List, pause and resume queues (over the API)."""


@queues.command("list")
@_api_options
def queues_list(url: str, api_key: str | None, as_json: bool) -> None:
    """Every queue: its pending, scheduled and running jobs, and whether it is paused."""
    with _client(url, api_key) as client:
        _print_queues(client.queues(), as_json)


@queues.command("pause")
@click.argument("name")
@_api_options
def queues_pause(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Stop every worker from starting NAME's jobs (running ones finish)."""
    with _client(url, api_key) as client:
        _print_queues([client.pause_queue(name)], as_json)


@queues.command("resume")
@click.argument("name")
@_api_options
def queues_resume(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Let workers start NAME's jobs again."""
    with _client(url, api_key) as client:
        _print_queues([client.resume_queue(name)], as_json)
