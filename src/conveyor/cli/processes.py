"""`conveyor up | api | worker | migrate`: the processes. Flags override the environment
and `.env`.

What an operator must fix before a process can start (a bad DATABASE_URL or setting, an
unreachable database, a port in use, a task module that does not import) is a
`StartupError`: `conveyor.cli.main` prints it as one line on stderr (`Error: …`), exit
status 1, no traceback.

`--import myapp.tasks` finds modules in the working directory, as `celery -A` and `rq` do:
the console script's `sys.path` starts at its own bin directory, not at the project.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from conveyor.config import Settings
from conveyor.errors import StartupError
from conveyor.logging import configure_logging, get_logger
from conveyor.startup import WAIT_FOR_DATABASE_SEC

if TYPE_CHECKING:
    from conveyor.tasks import TaskRegistry

log = get_logger("conveyor.cli")
F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")


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


@click.command()
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


@click.command()
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


@click.command()
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
    runtime.run_worker(settings, tasks, _queues(queues), wait_for_database=wait_for_database)


@click.command()
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
