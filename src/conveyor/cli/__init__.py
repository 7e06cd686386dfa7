"""The `conveyor` command: the processes (`processes.py`: up, api, worker, migrate) and the
operator commands over the API, one module per group (`jobs`, `dlq`, `queues`,
`schedules`, `tenants`; what they share is `remote.py`). `conveyor = conveyor.cli:main`.

A `StartupError` (what an operator must fix before a process can start) and any other
`click.ClickException` end as one line on stderr (`Error: …`), exit status 1, no traceback.
"""

from __future__ import annotations

from typing import Any

import click

from conveyor import __version__
from conveyor.cli import processes
from conveyor.cli.dlq import dlq
from conveyor.cli.jobs import jobs
from conveyor.cli.keys import keys
from conveyor.cli.queues import queues
from conveyor.cli.schedules import schedules
from conveyor.cli.tenants import tenants
from conveyor.errors import StartupError


class _Main(click.Group):
    """The command group, turning a `StartupError` into click's one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StartupError as exc:
            raise click.ClickException(exc.message) from exc


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """conveyor: a distributed task queue and job processor."""


for command in (processes.up, processes.api, processes.worker, processes.migrate, jobs, dlq,
                queues, schedules, keys, tenants):
    main.add_command(command)

__all__ = ["main"]
