"""conveyor: a distributed task queue and job processor.

The public surface: `task` to register handlers, `Client` to submit jobs, and the errors.
"""

from __future__ import annotations

from conveyor.errors import ConveyorError, PermanentError
from conveyor.tasks import task

__version__ = "0.1.0"

__all__ = ["Client", "ConveyorError", "PermanentError", "__version__", "task"]


def __getattr__(name: str) -> object:
    # The HTTP client pulls in httpx; import it only when asked for.
    if name == "Client":
        from conveyor.client import Client

        return Client
    raise AttributeError(name)
