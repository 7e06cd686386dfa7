"""The built-in `text` task: SEED.md's demo job.

Processing takes 1 second per character (scaled by TEXT_SECONDS_PER_CHAR, given when the
task is registered: `text_task(seconds_per_char)`; at least one character's worth), at most
30 characters. Registered by the entry points (`conveyor.runtime`), never by the engine.
Its five failure reasons and their messages are SEED.md's. Four of them are deterministic
validation errors that no retry can fix, so they are permanent and go to the DLQ after one
attempt; the simulated failure stands for a transient fault and is retried MAX_RETRIES times
before it reaches the DLQ.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict

from conveyor.context import JobContext
from conveyor.errors import PermanentError
from conveyor.tasks import TaskDefinition

MAX_CHARS = 30
FORBIDDEN_WORD = "reject"


class TextPayload(BaseModel):
    """The only fields a `text` job stores; anything else in a submission is dropped."""

    model_config = ConfigDict(extra="ignore", strict=True)

    text: str | None = None
    fail: bool | None = None
    invalid: bool | None = None


class SimulatedFailure(Exception):
    """A transient failure on purpose, to show retries ending in the DLQ."""


def check_text_payload(payload: dict[str, Any]) -> str:
    """Return the text to process, or raise with SEED.md's failure reason."""
    if payload.get("invalid") is True:
        raise PermanentError("Invalid payload format (invalid=true)")
    if payload.get("fail") is True:
        raise SimulatedFailure("Simulated failure for testing")
    text = payload.get("text")
    if not isinstance(text, str) or not text:
        raise PermanentError("Payload must include non-empty text")
    if len(text) > MAX_CHARS:
        raise PermanentError(
            f"Text length exceeds maximum ({len(text)} > {MAX_CHARS} characters)"
        )
    if FORBIDDEN_WORD in text.lower():
        raise PermanentError(
            f'Job rejected: forbidden content (text contains "{FORBIDDEN_WORD}")'
        )
    return text


async def process_text(
    payload: dict[str, Any], context: JobContext, *, seconds_per_char: float
) -> dict[str, Any]:
    """One character at a time, reporting progress after each (the dashboard's live bar)."""
    text = check_text_payload(payload)
    steps = max(1, len(text))
    for done in range(1, steps + 1):
        await asyncio.sleep(seconds_per_char)
        context.progress(done / steps, f"{done}/{steps} characters")
    return {"length": len(text), "seconds": steps * seconds_per_char}


def text_task(seconds_per_char: float = 1.0) -> TaskDefinition:
    """SEED.md's `text` task, taking `seconds_per_char` per character."""
    handler = partial(process_text, seconds_per_char=seconds_per_char)
    return TaskDefinition("text", handler, TextPayload)
