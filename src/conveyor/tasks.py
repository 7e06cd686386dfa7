"""Tasks: `@task("name")` on a sync or async function, and the `TaskRegistry` that a worker
and an API process are given.

`@task` wraps a function in a `Task` (still callable as the function, with its
`TaskDefinition` and a typed `enqueue`); nothing is registered at import time, so there is no
process-wide registry to leak between apps or tests. A registry is built by whoever starts a
process (`conveyor.runtime`): from the modules named with `--import`, plus the built-in `text`
task. A task may declare a Pydantic `payload_model`: the API then validates submissions
against it and stores only the fields it accepts.

Sync handlers run on the worker's own thread pool (the worker submits `TaskDefinition.call`
there), so they never block the event loop (and the heartbeats that keep their leases alive).

A handler takes the payload, and optionally a second parameter: its `JobContext` (job id,
attempt, cancellation flag, `progress()`); `conveyor.current_job()` returns the same anywhere
inside the handler. Or it takes typed arguments (`def send_email(to: str, subject: str)`):
its payload is then the object of those arguments, validated by a model made from the
signature, and a parameter annotated `JobContext` gets the context. `@task(timeout=30)`
gives every attempt of the task a deadline (a job's own `timeout_sec` overrides it).
`@task(unique_on=("report_id",))` makes every submit of the task a unique one, its key made
of those payload fields (see `conveyor.submitting.unique_key_of`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from conveyor.context import JobContext
from conveyor.errors import InvalidSubmission, UnknownTask
from conveyor.models import Job, JSONValue, UniqueWhile
from conveyor.schedules import ScheduleSpec, schedule

P = ParamSpec("P")
R = TypeVar("R")

def _takes_context(handler: Callable[..., Any]) -> bool:
    """Whether a payload-style `handler` accepts a second positional argument (its
    `JobContext`)."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: payload only
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)


@dataclass(frozen=True, slots=True)
class Arguments:
    """A handler that takes typed arguments instead of one payload dict: its payload is an
    object of those arguments, validated by a model made from the signature."""

    names: tuple[str, ...]
    context: str | None
    """The parameter annotated `JobContext`, if any: given the context, not a payload field."""
    model: type[BaseModel]


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, Mapping)


def arguments_of(handler: Callable[..., Any]) -> Arguments | None:
    """None for a payload-style handler (one parameter annotated as a dict or Mapping, or
    named `payload` without an annotation, then optionally its context); otherwise the
    typed arguments of its signature."""
    try:
        signature = inspect.signature(handler)
        hints = typing.get_type_hints(handler)
    except (TypeError, ValueError, NameError):
        return None
    parameters = [p for p in signature.parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    context = next((p.name for p in parameters if hints.get(p.name) is JobContext), None)
    own = [p for p in parameters if p.name != context]
    if own and (_is_mapping(hints.get(own[0].name))
                or (own[0].name == "payload" and own[0].name not in hints)):
        return None
    fields: dict[str, Any] = {
        p.name: (hints.get(p.name, Any), ... if p.default is p.empty else p.default)
        for p in own
    }
    model = create_model(
        f"{getattr(handler, '__name__', 'task')}_arguments",
        __config__=ConfigDict(extra="forbid"), **fields)
    return Arguments(tuple(fields), context, model)


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    name: str
    handler: Callable[..., Any]
    payload_model: type[BaseModel] | None = None
    timeout: float | None = None
    """Seconds each attempt may run (None: no deadline); a job's `timeout_sec` overrides."""
    unique_on: tuple[str, ...] = ()
    """Payload fields whose values make a submit's unique key, unless it gives its own."""
    unique_while: UniqueWhile | None = None
    """The default `unique_while` of the task's unique submits (None: `pending`)."""
    schedule: ScheduleSpec | None = None
    """`@task(cron=…)` or `@task(every=…)`: the schedule named after the task that fires it."""
    takes_context: bool = field(init=False, default=False)
    arguments: Arguments | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"task {self.name!r}: timeout must be positive seconds")
        arguments = arguments_of(self.handler)
        object.__setattr__(self, "arguments", arguments)
        if arguments is None:
            object.__setattr__(self, "takes_context", _takes_context(self.handler))
        else:
            object.__setattr__(self, "takes_context", arguments.context is not None)
            if self.payload_model is None:
                object.__setattr__(self, "payload_model", arguments.model)
        self._check_unique()

    def _check_unique(self) -> None:
        """Refuse a misspelt `unique_on` at import time where the payload's fields are known:
        at submit time it would be a refusal of every job of the task."""
        if self.unique_while not in (None, "pending", "active"):
            raise ValueError(f"task {self.name!r}: unique_while must be 'pending' or 'active'")
        if self.payload_model is None:
            return
        unknown = [name for name in self.unique_on if name not in self.payload_model.model_fields]
        if unknown:
            raise ValueError(f"task {self.name!r}: unique_on names {unknown[0]!r}, which is "
                             "not a field of its payload")

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def clean_payload(self, payload: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """Validate against the payload model and keep only the fields it declares (a typed
        task keeps every argument, defaults included, so the worker sees what was meant).

        Raises `pydantic.ValidationError` on a payload the task cannot accept.
        """
        if self.payload_model is None:
            return dict(payload)
        model = self.payload_model.model_validate(dict(payload))
        if self.arguments is not None:
            return model.model_dump(mode="json")
        return model.model_dump(mode="json", exclude_none=True, exclude_unset=True)

    def call(self, payload: Mapping[str, JSONValue], context: JobContext) -> Any:
        """Call the handler: its result (sync), or the coroutine to await (async). A typed
        task's payload is validated again here and given as its typed arguments."""
        if self.arguments is not None:
            model = self.arguments.model.model_validate(dict(payload))
            kwargs = {name: getattr(model, name) for name in self.arguments.names}
            if self.arguments.context is not None:
                kwargs[self.arguments.context] = context
            return self.handler(**kwargs)
        if self.takes_context:
            return self.handler(dict(payload), context)
        return self.handler(dict(payload))

    def payload_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The payload for a call of the task with these arguments (`Task.enqueue`)."""
        if self.arguments is None:
            if kwargs or len(args) != 1 or not isinstance(args[0], Mapping):
                raise TypeError(f"task {self.name!r} takes one payload dict")
            return dict(args[0])
        signature = inspect.signature(self.handler)
        own = signature.replace(parameters=[
            p for p in signature.parameters.values() if p.name != self.arguments.context])
        bound = own.bind_partial(*args, **kwargs)  # the context is the worker's to give
        try:
            model = self.arguments.model.model_validate(bound.arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidSubmission(f"{self.name}({where}=…): {first['msg']}") from None
        return model.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Options:
    """How to enqueue a typed task's call: everything but its own arguments."""

    queue: str = "default"
    priority: int = 0
    max_retries: int | None = None
    delay_sec: float = 0.0
    run_at: datetime | None = None
    timeout: float | None = None
    idempotency_key: str | None = None
    tenant: str | None = None
    trace_id: str | None = None
    unique_key: str | None = None
    unique_fields: Sequence[str] | None = None
    unique_while: UniqueWhile | None = None


class Task(Generic[P, R]):
    """What `@task` makes of a function: still callable as the function, plus `enqueue`,
    checked by mypy against the function's own signature. Options that are not the task's
    arguments go through `with_options(...)`, so they never collide with them:

        send_email.enqueue(to="a@b.c", subject="hi")
        send_email.with_options(queue="mail", run_at=tomorrow).enqueue(to="a@b.c", subject="")
        await send_email.enqueue_async(to="a@b.c", subject="hi")

    `enqueue` goes through `conveyor.producer.default_queue()` (DATABASE_URL and the rest of
    the settings from the environment) unless `with_options(via=…)` names a producer."""

    def __init__(self, fn: Callable[P, R], definition: TaskDefinition,
                 options: Options | None = None, via: Any = None) -> None:
        self.fn = fn
        self.definition = definition
        self.options = options or Options()
        self._via = via
        functools.update_wrapper(self, fn)

    @property
    def name(self) -> str:
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def with_options(self, *, via: Any = None, **options: Any) -> Task[P, R]:
        """The same task with other enqueue options (see `Options`); `via`: the producer to
        enqueue through (a `conveyor.Queue` for `enqueue`, an `AsyncQueue` for
        `enqueue_async`)."""
        merged = dataclasses.replace(self.options, **options)
        return Task(self.fn, self.definition, merged, via if via is not None else self._via)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Enqueue a call of this task; returns the stored job."""
        from conveyor.producer import default_queue

        payload = self.definition.payload_of(args, kwargs)
        via = self._via if self._via is not None else default_queue()
        job: Job = via.enqueue(self, payload, **_as_arguments(self.options))
        return job

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """`enqueue` for async code, through an `AsyncQueue`."""
        from conveyor.producer import default_async_queue

        payload = self.definition.payload_of(args, kwargs)
        via = self._via if self._via is not None else default_async_queue()
        job: Job = await via.enqueue(self, payload, **_as_arguments(self.options))
        return job


def _as_arguments(options: Options) -> dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


@typing.overload
def task(
    name: str | None = None,
    *,
    payload_model: type[BaseModel] | None = None,
    timeout: float | None = None,
    unique_on: Sequence[str] | str = (),
    unique_while: UniqueWhile | None = None,
    cron: str | None = None,
    every: float | timedelta | None = None,
) -> _Decorator: ...


@typing.overload
def task(name: Callable[Concatenate[JobContext, P], R]) -> Task[P, R]: ...


@typing.overload
def task(name: Callable[P, R]) -> Task[P, R]: ...


def task(
    name: str | Callable[..., Any] | None = None,
    *,
    payload_model: type[BaseModel] | None = None,
    timeout: float | None = None,
    unique_on: Sequence[str] | str = (),
    unique_while: UniqueWhile | None = None,
    cron: str | None = None,
    every: float | timedelta | None = None,
) -> Any:
    """Make the decorated function the handler of task `name` (default: its name). A
    registry picks it up from its module (`TaskRegistry.include`). `timeout`: seconds each
    attempt may run before it fails with "Timed out after N s" (and is retried).
    `unique_on`: payload fields (one name, or several) whose values make the unique key of
    every submit of the task that gives none of its own; `unique_while`: `pending` (the
    default) or `active`, how long a job holds its key (docs/design.md, "Unique jobs").
    `cron` (five fields or an alias such as `@hourly`, in UTC) or `every` (seconds or a
    `timedelta`): a schedule named after the task fires it with an empty payload; for a
    payload, a time zone or several schedules of one task, use `conveyor.schedule(...)`.

    A handler takes one payload dict (and optionally its `JobContext` after it), or typed
    arguments: `def send_email(to: str, subject: str = "")`, whose payload is validated by a
    model made from the signature and given back as those arguments. A typed handler that
    wants its context takes it as its first parameter (`def f(context: JobContext, n: int)`):
    then `f.enqueue(n=…)` is checked against the rest. (A payload-style handler's `enqueue`
    is checked only as far as mypy can tell; it takes the payload dict.)"""
    if callable(name):
        return task()(name)

    fields = (unique_on,) if isinstance(unique_on, str) else tuple(unique_on)

    def mark(fn: Callable[P, R]) -> Task[P, R]:
        task_name = name or fn.__name__
        periodic = None if cron is None and every is None else schedule(
            task_name, task_name, cron=cron, every=every)
        definition = TaskDefinition(task_name, fn, payload_model, timeout, fields,
                                    unique_while, periodic)
        return Task(fn, definition)

    return mark


class _Decorator(typing.Protocol):
    @typing.overload
    def __call__(
        self, fn: Callable[[dict[str, Any], JobContext], R]
    ) -> Task[[dict[str, Any]], R]: ...

    @typing.overload
    def __call__(self, fn: Callable[Concatenate[JobContext, P], R]) -> Task[P, R]: ...

    @typing.overload
    def __call__(self, fn: Callable[P, R]) -> Task[P, R]: ...

    def __call__(self, fn: Callable[..., Any]) -> Any: ...


def definition_of(fn: object) -> TaskDefinition | None:
    """The definition `@task` made of `fn`, if any."""
    return fn.definition if isinstance(fn, Task) else None


class TaskRegistry:
    """The tasks one process knows, by name."""

    def __init__(self, definitions: Iterable[TaskDefinition] = ()) -> None:
        self._tasks: dict[str, TaskDefinition] = {}
        self._schedules: dict[str, ScheduleSpec] = {}
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
                elif isinstance(value, ScheduleSpec):
                    self.add_schedule(value)

    def add_schedule(self, spec: ScheduleSpec) -> None:
        """Declare a schedule (found by `include` as a module attribute made by
        `conveyor.schedule(...)`); a second of the same name replaces the first."""
        self._schedules[spec.name] = spec

    def schedules(self) -> list[ScheduleSpec]:
        """Every schedule declared in code: the `@task(cron=…)` ones and the others."""
        found = {d.schedule.name: d.schedule for d in self._tasks.values() if d.schedule}
        found.update(self._schedules)
        return [found[name] for name in sorted(found)]

    def get(self, name: str) -> TaskDefinition:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(f"no handler is registered for task {name!r}") from None

    def find(self, name: str) -> TaskDefinition | None:
        return self._tasks.get(name)
