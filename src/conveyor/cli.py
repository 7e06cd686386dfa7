"""`conveyor up | api | worker | migrate`. Flags override the environment and `.env`."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from conveyor import __version__
from conveyor.config import Settings
from conveyor.logging import configure_logging, get_logger

log = get_logger("conveyor.cli")


def _settings(**overrides: Any) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _queues(value: str) -> list[str]:
    queues = [q.strip() for q in value.split(",") if q.strip()]
    if not queues:
        raise click.BadParameter("give at least one queue name")
    return queues


_database = click.option("--database-url", envvar=None, default=None,
                         help="Overrides DATABASE_URL.")
_imports = click.option("--import", "imports", multiple=True, metavar="MODULE",
                        help="Import a module that registers tasks (repeatable).")
_queues_option = click.option("--queues", default="default", show_default=True,
                              help="Comma-separated queues to take jobs from.")


@click.group()
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """conveyor: a distributed task queue and job processor."""


@main.command()
@click.option("--host", default=None, help="Overrides HOST.")
@click.option("--port", type=int, default=None, help="Overrides PORT.")
@click.option("--concurrency", type=int, default=None, help="Overrides WORKER_CONCURRENCY.")
@_database
@_imports
@_queues_option
def up(host: str | None, port: int | None, concurrency: int | None, database_url: str | None,
       imports: tuple[str, ...], queues: str) -> None:
    """API and one worker in one process: the quickest start."""
    settings = _settings(host=host, port=port, worker_concurrency=concurrency,
                         database_url=database_url)
    configure_logging(settings.log_level)
    from conveyor import runtime

    runtime.serve(settings, runtime.build_registry(settings, imports), run_worker=True,
                  queues=_queues(queues))


@main.command()
@click.option("--host", default=None, help="Overrides HOST.")
@click.option("--port", type=int, default=None, help="Overrides PORT.")
@_database
@_imports
def api(host: str | None, port: int | None, database_url: str | None,
        imports: tuple[str, ...]) -> None:
    """The REST + WebSocket API alone (stateless: run as many as you like)."""
    settings = _settings(host=host, port=port, database_url=database_url)
    configure_logging(settings.log_level)
    from conveyor import runtime

    runtime.serve(settings, runtime.build_registry(settings, imports), run_worker=False,
                  queues=["default"])


@main.command()
@click.option("--concurrency", type=int, default=None, help="Overrides WORKER_CONCURRENCY.")
@_database
@_imports
@_queues_option
def worker(concurrency: int | None, database_url: str | None, imports: tuple[str, ...],
           queues: str) -> None:
    """A worker process. SIGTERM: stop leasing, finish or hand back running jobs."""
    settings = _settings(worker_concurrency=concurrency, database_url=database_url)
    configure_logging(settings.log_level)
    from conveyor import runtime

    tasks = runtime.build_registry(settings, imports)
    asyncio.run(runtime.run_worker(settings, tasks, _queues(queues)))


@main.command()
@_database
def migrate(database_url: str | None) -> None:
    """Bring the database schema up to date (also done on every start)."""
    settings = _settings(database_url=database_url)
    configure_logging(settings.log_level)

    async def run() -> None:
        from conveyor.store import open_store

        async with open_store(settings.database_url):
            pass

    asyncio.run(run())
    log.info("migrated", database=settings.database_url.split("@")[-1])
