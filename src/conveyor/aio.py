"""Small asyncio helpers.

`wait_event` exists because `asyncio.wait_for` on Python 3.11 can swallow a cancellation
when the inner wait finishes at the same moment (fixed in 3.12): a task polling in a loop
would then never stop. `asyncio.timeout` does not have that flaw.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` passes; True if it was set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(0.0, timeout)):
            await event.wait()
    except TimeoutError:
        return False
    return True
