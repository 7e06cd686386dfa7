"""Tasks: `@task("name")` on a sync or async function, and the `TaskRegistry` that a worker
and an API process are given.

`@task` only marks a function (it attaches its `TaskDefinition`); nothing is registered at
import time, so there is no process-wide registry to leak between apps or tests. A registry is
built by whoever starts a process (`conveyor.runtime`): from the modules named with
`--import`, plus the built-in `text` task. A task may declare a Pydantic `payload_model`: the
API then validates submissions against it and stores only the fields it accepts.

Sync handlers run on the worker's own thread pool (the worker submits `TaskDefinition.call`
there), so they never block the event loop (and the heartbeats that keep their leases alive).

A handler takes the payload, and optionally a second parameter: its `JobContext` (job id,
attempt, cancellation flag, `progress()`); `conveyor.current_job()` returns the same anywhere
inside the handler. `@task(timeout=30)` gives every attempt of the task a deadline (a job's
own `timeout_sec` overrides it).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from pydantic import BaseModel

from conveyor.context import JobContext
from conveyor.errors import UnknownTask
from conveyor.models import JSONValue

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__conveyor_task__"


def _takes_context(handler: Callable[..., Any]) -> bool:
    """Whether `handler` accepts a second positional argument (its `JobContext`)."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: payload only
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    name: str
    handler: Callable[..., Any]
    payload_model: type[BaseModel] | None = None
    timeout: float | None = None
    """Seconds each attempt may run (None: no deadline); a job's `timeout_sec` overrides."""
    takes_context: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"task {self.name!r}: timeout must be positive seconds")
        object.__setattr__(self, "takes_context", _takes_context(self.handler))

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

    def call(self, payload: Mapping[str, JSONValue], context: JobContext) -> Any:
        """Call the handler: its result (sync), or the coroutine to await (async)."""
        if self.takes_context:
            return self.handler(dict(payload), context)
        return self.handler(dict(payload))


def task(
    name: str | None = None,
    *,
    payload_model: type[BaseModel] | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]:
    """Mark the decorated function as the handler of task `name` (default: its name). A
    registry picks it up from its module (`TaskRegistry.include`). `timeout`: seconds each
    attempt may run before it fails with "Timed out after N s" (and is retried)."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, TaskDefinition(name or fn.__name__, fn, payload_model, timeout))
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
