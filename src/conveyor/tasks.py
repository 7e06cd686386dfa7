"""Tasks: `@task("name")` on a sync or async function, and the `TaskRegistry` that a worker
and an API process are given.

`@task` only marks a function (it attaches its `TaskDefinition`); nothing is registered at
import time, so there is no process-wide registry to leak between apps or tests. A registry is
built by whoever starts a process (`conveyor.runtime`): from the modules named with
`--import`, plus the built-in `text` task. A task may declare a Pydantic `payload_model`: the
API then validates submissions against it and stores only the fields it accepts.

Sync handlers run on the worker's own thread pool (`TaskDefinition.run`), so they never block
the event loop (and the heartbeats that keep their leases alive).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from pydantic import BaseModel

from conveyor.errors import UnknownTask
from conveyor.models import JSONValue

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__conveyor_task__"


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

    async def run(self, payload: Mapping[str, JSONValue], threads: Executor | None) -> JSONValue:
        """Run the handler: awaited when async, on `threads` when sync."""
        if self.is_async:
            return await self.handler(dict(payload))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads, self.handler, dict(payload))


def task(
    name: str | None = None, *, payload_model: type[BaseModel] | None = None
) -> Callable[[F], F]:
    """Mark the decorated function as the handler of task `name` (default: its name). A
    registry picks it up from its module (`TaskRegistry.include`)."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, TaskDefinition(name or fn.__name__, fn, payload_model))
        return fn

    return mark


def definition_of(fn: object) -> TaskDefinition | None:
    """The definition `@task` attached to `fn`, if any."""
    found = getattr(fn, _MARK, None)
    return found if isinstance(found, TaskDefinition) else None


class TaskRegistry:
    """The tasks one process knows, by name."""

    def __init__(self, definitions: Iterable[TaskDefinition] = ()) -> None:
        self._tasks: dict[str, TaskDefinition] = {}
        for definition in definitions:
            self.add(definition)

    def add(self, definition: TaskDefinition) -> None:
        """Register a task; a second task of the same name replaces the first."""
        self._tasks[definition.name] = definition

    def include(self, *modules: str | ModuleType) -> None:
        """Import each module (a name or the module itself) and register its `@task`s."""
        for module in modules:
            loaded = importlib.import_module(module) if isinstance(module, str) else module
            for value in list(vars(loaded).values()):
                definition = definition_of(value)
                if definition is not None:
                    self.add(definition)

    def get(self, name: str) -> TaskDefinition:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(f"no handler is registered for task {name!r}") from None

    def find(self, name: str) -> TaskDefinition | None:
        return self._tasks.get(name)
