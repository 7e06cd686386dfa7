"""From "submit this" to a `NewJob`: the rules every way in applies, written once.

`POST /jobs` (`conveyor.api.submission`), the in-process producer API (`conveyor.producer`)
and typed tasks (`Task.enqueue`) all come here: the task's payload model cleans the payload
when this process knows the task, `max_retries` defaults to the configured MAX_RETRIES,
`run_at` and `delay_sec` exclude each other, a keyed submission gets the request hash
that tells a replay (same body) from a conflict (another body), and a unique submission its
unique key (given, or derived from payload fields: `unique_key_of`). The payload limits are
the store's to check, once for every way in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from conveyor.errors import InvalidSubmission
from conveyor.models import MAX_UNIQUE_KEY, NewJob, UniqueWhile
from conveyor.payloads import find_problem
from conveyor.schedules import ScheduleSpec
from conveyor.store.rules import check_unique_key
from conveyor.tasks import TaskDefinition, TaskRegistry
from conveyor.wire import MAX_TIMEOUT_SEC, MIN_TIMEOUT_SEC

DEFAULT_TASK = "text"


def new_job(
    task: str,
    payload: Mapping[str, Any],
    *,
    tasks: TaskRegistry,
    default_max_retries: int,
    tenant: str = "default",
    queue: str = "default",
    priority: int = 0,
    max_retries: int | None = None,
    delay_sec: float = 0.0,
    run_at: datetime | None = None,
    timeout_sec: float | None = None,
    idempotency_key: str | None = None,
    trace_id: str | None = None,
    unique_key: str | None = None,
    unique_fields: Sequence[str] | None = None,
    unique_while: UniqueWhile | None = None,
) -> NewJob:
    """The job to store, or `InvalidSubmission` saying why not.

    Unknown task names are accepted as they are: tasks may live only in the workers'
    modules; a worker that lacks the task dead-letters the job with a clear error."""
    if run_at is not None and delay_sec:
        raise InvalidSubmission("give either `run_at` or `delay_sec`, not both")
    if run_at is not None:
        if run_at.tzinfo is None:
            raise InvalidSubmission("`run_at` needs a time zone (an offset)")
        run_at = run_at.astimezone(UTC)
    if timeout_sec is not None and not MIN_TIMEOUT_SEC <= timeout_sec <= MAX_TIMEOUT_SEC:
        raise InvalidSubmission(f"`timeout_sec` must be between {MIN_TIMEOUT_SEC:g} and "
                                f"{MAX_TIMEOUT_SEC:g} seconds")
    cleaned: dict[str, Any] = dict(payload)
    definition = tasks.find(task)
    if definition is not None:
        cleaned = _cleaned(definition, cleaned)
    retries = default_max_retries if max_retries is None else max_retries
    key, holds = _unique(task, cleaned, definition, unique_key, unique_fields, unique_while)
    request_hash = None
    if idempotency_key is not None:  # only a keyed submission is ever compared
        # A whole number of seconds hashes as an integer however it was written (0, 0.0).
        delay: float = int(delay_sec) if float(delay_sec).is_integer() else delay_sec
        canonical = json.dumps(
            [task, cleaned, queue, priority, retries, delay,
             *([] if run_at is None and timeout_sec is None and key is None
               else [None if run_at is None else run_at.timestamp(), timeout_sec]),
             *([] if key is None else [key, holds])],
            sort_keys=True, separators=(",", ":"),
        )
        request_hash = hashlib.sha256(canonical.encode()).hexdigest()
    return NewJob(
        task=task, payload=cleaned, tenant=tenant, queue=queue, priority=priority,
        max_retries=retries, delay_sec=delay_sec, idempotency_key=idempotency_key,
        request_hash=request_hash, trace_id=trace_id, run_at=run_at, timeout_sec=timeout_sec,
        unique_key=key, unique_while=holds,
    )


def _unique(
    task: str,
    payload: Mapping[str, Any],
    definition: TaskDefinition | None,
    unique_key: str | None,
    unique_fields: Sequence[str] | None,
    unique_while: UniqueWhile | None,
) -> tuple[str | None, UniqueWhile]:
    """The submission's unique key and how long its job holds it. A key of its own or
    fields of its own win over the task's `unique_on`; `unique_while` defaults to the
    task's, then to `pending`."""
    if unique_key is not None and unique_fields is not None:
        raise InvalidSubmission("give either `unique_key` or `unique_fields`, not both")
    holds = unique_while or (definition.unique_while if definition is not None else None)
    if unique_key is not None:
        check_unique_key(unique_key)
    else:
        fields = unique_fields
        if fields is None and definition is not None and definition.unique_on:
            fields = definition.unique_on
        if fields is not None:
            model = definition.payload_model if definition is not None else None
            unique_key = unique_key_of(task, payload, fields,
                                       () if model is None else model.model_fields)
    if unique_key is None and unique_while is not None:
        raise InvalidSubmission("`unique_while` needs a unique key (`unique_key` or "
                                "`unique_fields`, or the task's `unique_on`)")
    return unique_key, holds or "pending"


def unique_key_of(
    task: str, payload: Mapping[str, Any], fields: Sequence[str], declared: Collection[str] = ()
) -> str:
    """The unique key made of payload fields: `<task>:` and the fields with their values as
    canonical JSON (keys sorted, no spaces), e.g. `report:{"month":"2026-11","user":7}`;
    the same for any order of `fields`. Taken from the payload as stored (after the task's
    model cleaned it), so `"7"` and `7` for an `int` field are one key. A key longer than
    MAX_UNIQUE_KEY is `<task>:sha256:<hex digest of that JSON>`. A field the payload lacks
    counts as null if the task's payload model declares it (`declared`: an optional field
    left out), and is refused otherwise: a misspelt field would make every submit one job."""
    if not fields:
        raise InvalidSubmission("`unique_fields` names no field")
    missing = [name for name in fields if name not in payload and name not in declared]
    if missing:
        raise InvalidSubmission(f"unique field {missing[0]!r} is not in the payload")
    canonical = json.dumps({name: payload.get(name) for name in fields}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    key = f"{task}:{canonical}"
    if len(key) > MAX_UNIQUE_KEY or find_problem(key) is not None:
        digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{task}:sha256:{digest}"
    return key



def scheduled(spec: ScheduleSpec, tasks: TaskRegistry) -> ScheduleSpec:
    """A schedule whose payload its task's model accepts (cleaned as a submit's would be),
    checked when it is declared or changed rather than at every tick; `InvalidSubmission`
    otherwise. Unknown tasks are accepted, as they are for submits."""
    definition = tasks.find(spec.task)
    if definition is None:
        return spec.checked()
    return replace(spec, payload=_cleaned(definition, spec.payload)).checked()


def _cleaned(definition: TaskDefinition, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as the task's model accepts it, or `InvalidSubmission` naming the field."""
    try:
        return definition.clean_payload(dict(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidSubmission(f"payload.{where}: {first['msg']}") from None
