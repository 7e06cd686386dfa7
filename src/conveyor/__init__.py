"""conveyor: a distributed task queue and job processor.

The public surface: `task` to register handlers, `schedule` to fire a task periodically,
`JobContext` and `current_job()` for a running handler, `Queue` and `AsyncQueue` to enqueue
from Python without HTTP, `Client` to submit jobs over HTTP, and the errors.
"""

from __future__ import annotations

from conveyor.context import JobContext, current_job
from conveyor.errors import ConveyorError, PermanentError
from conveyor.schedules import schedule
from conveyor.tasks import task

__version__ = "0.1.0"

__all__ = ["AsyncClient", "AsyncQueue", "Client", "ConveyorError", "JobContext", "JobSpec",
           "PermanentError", "Queue", "__version__", "current_job", "schedule", "task"]


def __getattr__(name: str) -> object:
    # The HTTP client pulls in httpx; import it only when asked for.
    if name in ("Client", "AsyncClient"):
        from conveyor import client

        return getattr(client, name)
    if name in ("Queue", "AsyncQueue", "JobSpec"):  # the store's modules, only when asked
        from conveyor import producer

        return getattr(producer, name)
    raise AttributeError(name)
