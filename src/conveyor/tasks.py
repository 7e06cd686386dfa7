"""The task registry: `@task("name")` on a sync or async function.

Sync handlers run on a worker thread so they never block the event loop (and the
heartbeats that keep their leases alive). A task may declare a Pydantic `payload_model`:
the API then validates submissions against it and stores only the fields it accepts.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from conveyor.errors import UnknownTask
from conveyor.models import JSONValue

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    name: str
    handler: Callable[[dict[str, Any]], Any]
    payload_model: type[BaseModel] | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def clean_payload(self, payload: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """Validate against the payload model and keep only the fields it declares.

        Raises `pydantic.ValidationError` on a payload the task cannot accept.
        """
        if self.payload_model is None:
            return dict(payload)
        model = self.payload_model.model_validate(dict(payload))
        return model.model_dump(mode="json", exclude_none=True, exclude_unset=True)

    async def run(self, payload: Mapping[str, JSONValue]) -> JSONValue:
        if self.is_async:
            return await self.handler(dict(payload))
        return await asyncio.to_thread(self.handler, dict(payload))


_registry: dict[str, TaskDefinition] = {}


def task(
    name: str | None = None, *, payload_model: type[BaseModel] | None = None
) -> Callable[[F], F]:
    """Register the decorated function as the handler of task `name` (default: its name)."""

    def register(fn: F) -> F:
        task_name = name or fn.__name__
        _registry[task_name] = TaskDefinition(task_name, fn, payload_model)
        return fn

    return register


def get_task(name: str) -> TaskDefinition:
    ensure_builtin_tasks()
    try:
        return _registry[name]
    except KeyError:
        raise UnknownTask(f"no handler is registered for task {name!r}") from None


def find_task(name: str) -> TaskDefinition | None:
    ensure_builtin_tasks()
    return _registry.get(name)


def import_task_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Import user modules so their `@task` decorators run."""
    for module in modules:
        importlib.import_module(module)


def ensure_builtin_tasks() -> None:
    import conveyor.builtin_tasks  # noqa: F401  (registers `text` on import)
