"""Turning a submitted body into a `NewJob`: defaults, payload cleaning, request hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError

from conveyor.config import Settings
from conveyor.models import NewJob
from conveyor.tasks import TaskRegistry
from conveyor.wire import SubmitJob

DEFAULT_TASK = "text"


def to_new_job(
    body: SubmitJob,
    settings: Settings,
    tasks: TaskRegistry,
    *,
    tenant: str,
    idempotency_key: str | None,
    trace_id: str | None,
) -> NewJob:
    """Validate against the task's payload model when this process knows the task. The
    payload limits (`conveyor.payloads`) are the store's to check, once for every way in.

    Unknown task names are accepted as they are: tasks may live only in the workers'
    modules; a worker that lacks the task dead-letters the job with a clear error.
    """
    if body.text is not None and body.payload is not None:
        raise HTTPException(422, "give either `text` or `payload`, not both")
    if body.run_at is not None and body.delay_sec:
        raise HTTPException(422, "give either `run_at` or `delay_sec`, not both")
    task_name = body.task or DEFAULT_TASK
    payload: dict[str, Any] = dict(body.payload or {})
    if body.text is not None:
        if task_name != DEFAULT_TASK:
            raise HTTPException(422, "`text` is a shortcut for the text task only")
        payload = {"text": body.text}
    definition = tasks.find(task_name)
    if definition is not None:
        try:
            payload = definition.clean_payload(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise HTTPException(422, f"payload.{where}: {first['msg']}") from None
    max_retries = settings.max_retries if body.max_retries is None else body.max_retries
    request_hash = None
    if idempotency_key is not None:  # only a keyed submission is ever compared
        canonical = json.dumps(
            [task_name, payload, body.queue, body.priority, max_retries, body.delay_sec,
             *([] if body.run_at is None and body.timeout_sec is None
               else [None if body.run_at is None else body.run_at.timestamp(),
                     body.timeout_sec])],
            sort_keys=True, separators=(",", ":"),
        )
        request_hash = hashlib.sha256(canonical.encode()).hexdigest()
    return NewJob(
        task=task_name,
        payload=payload,
        tenant=tenant,
        queue=body.queue,
        priority=body.priority,
        max_retries=max_retries,
        delay_sec=body.delay_sec,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        trace_id=trace_id,
        run_at=body.run_at,
        timeout_sec=body.timeout_sec,
    )
