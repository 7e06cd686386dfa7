"""Client-side deadlines for store calls, the same for both drivers.

A call to a database that stopped answering (a network cut, a host gone, a locked SQLite
file) must not wait for TCP or a busy handler to give up, which takes minutes: a worker
needs to know within seconds that its store is away, so it can stop what it may no longer
own. Every driver call therefore runs under a `Deadline` of `call_timeout` seconds
(STORE_TIMEOUT_SEC). When it passes, the driver's `cut` makes the call fail at once, and the
driver reports `StoreUnavailable` ("no answer within N s"):

- PostgreSQL: the connection's socket is shut down (not closed: psycopg and the pool still
  own the descriptor), so the statement in flight fails with a connection error at once,
  instead of psycopg's cancellation (a cancel request over the same dead network, then a
  wait: seconds more); the pool discards the broken connection.
- SQLite: the statement is interrupted, a write still waiting for a locked file writes
  nothing once it gets the lock, and the caller stops waiting for the writer thread.

A deadline is one timer on the event loop, armed and disarmed around the call: no task, no
extra loop iteration, so the hot paths (lease, ack, submit) pay a microsecond for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

DEFAULT_CALL_TIMEOUT_SEC = 10.0
"""How long a store call may take before it counts as unanswered (STORE_TIMEOUT_SEC)."""


class Deadline:
    """A timer for one call: when `seconds` pass before `cancel()`, `cut()` runs and
    `expired` becomes true. `seconds <= 0`: no deadline."""

    __slots__ = ("_handle", "expired", "seconds")

    def __init__(self, seconds: float, cut: Callable[[], None]) -> None:
        self.seconds = seconds
        self.expired = False
        self._handle = (asyncio.get_running_loop().call_later(seconds, self._fire, cut)
                        if seconds > 0 else None)

    def _fire(self, cut: Callable[[], None]) -> None:
        self.expired = True
        cut()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def message(self, where: str) -> str:
        return f"{where}: no answer within {self.seconds:g} s"
