"""conveyor: a distributed task queue and job processor.

The public surface: `task` to register handlers, `JobContext` and `current_job()` for a
running handler, `Client` to submit jobs, and the errors.
"""

from __future__ import annotations

from conveyor.context import JobContext, current_job
from conveyor.errors import ConveyorError, PermanentError
from conveyor.tasks import task

__version__ = "0.1.0"

__all__ = ["Client", "ConveyorError", "JobContext", "PermanentError", "__version__",
           "current_job", "task"]


def __getattr__(name: str) -> object:
    # The HTTP client pulls in httpx; import it only when asked for.
    if name == "Client":
        from conveyor.client import Client

        return Client
    raise AttributeError(name)
