"""Turning a submitted body into a `NewJob`: the body's own shape rules (`text` is the text
task's shortcut), then the rules every way in shares (`conveyor.submitting`)."""

from __future__ import annotations

from typing import Any

from conveyor.config import Settings
from conveyor.errors import InvalidSubmission
from conveyor.models import NewJob
from conveyor.submitting import DEFAULT_TASK, new_job
from conveyor.tasks import TaskRegistry
from conveyor.wire import SubmitJob


def to_new_job(
    body: SubmitJob,
    settings: Settings,
    tasks: TaskRegistry,
    *,
    tenant: str,
    idempotency_key: str | None,
    trace_id: str | None,
) -> NewJob:
    if body.text is not None and body.payload is not None:
        raise InvalidSubmission("give either `text` or `payload`, not both")
    task_name = body.task or DEFAULT_TASK
    payload: dict[str, Any] = dict(body.payload or {})
    if body.text is not None:
        if task_name != DEFAULT_TASK:
            raise InvalidSubmission("`text` is a shortcut for the text task only")
        payload = {"text": body.text}
    return new_job(
        task_name, payload, tasks=tasks, default_max_retries=settings.max_retries,
        tenant=tenant, queue=body.queue, priority=body.priority, max_retries=body.max_retries,
        delay_sec=body.delay_sec, run_at=body.run_at, timeout_sec=body.timeout_sec,
        idempotency_key=idempotency_key, trace_id=trace_id, unique_key=body.unique_key,
        unique_fields=body.unique_fields, unique_while=body.unique_while,
    )
