"""From "submit this" to a `NewJob`: the rules every way in applies, written once.

`POST /jobs` (`conveyor.api.submission`), the in-process producer API (`conveyor.producer`)
and typed tasks (`Task.enqueue`) all come here: the task's payload model cleans the payload
when this process knows the task, `max_retries` defaults to the configured MAX_RETRIES,
`run_at` and `delay_sec` exclude each other, and a keyed submission gets the request hash
that tells a replay (same body) from a conflict (another body). The payload limits are the
store's to check, once for every way in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from conveyor.errors import InvalidSubmission
from conveyor.models import NewJob, RateLimit
from conveyor.tasks import TaskRegistry
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
        try:
            cleaned = definition.clean_payload(cleaned)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidSubmission(f"payload.{where}: {first['msg']}") from None
    retries = default_max_retries if max_retries is None else max_retries
    request_hash = None
    if idempotency_key is not None:  # only a keyed submission is ever compared
        # A whole number of seconds hashes as an integer however it was written (0, 0.0).
        delay: float = int(delay_sec) if float(delay_sec).is_integer() else delay_sec
        canonical = json.dumps(
            [task, cleaned, queue, priority, retries, delay,
             *([] if run_at is None and timeout_sec is None
               else [None if run_at is None else run_at.timestamp(), timeout_sec])],
            sort_keys=True, separators=(",", ":"),
        )
        request_hash = hashlib.sha256(canonical.encode()).hexdigest()
    return NewJob(
        task=task, payload=cleaned, tenant=tenant, queue=queue, priority=priority,
        max_retries=retries, delay_sec=delay_sec, idempotency_key=idempotency_key,
        request_hash=request_hash, trace_id=trace_id, run_at=run_at, timeout_sec=timeout_sec,
    )


def rate_of(per_minute: int) -> RateLimit | None:
    """RATE_LIMIT_PER_MINUTE as the store takes it (0: no limit)."""
    return RateLimit(per_minute) if per_minute else None
