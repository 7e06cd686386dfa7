"""LISTEN connections, kept alive across outages: a store has up to two, each started the
first time something waits on it.

A listener lives outside the pool: a LISTEN is a property of a session, and a pooled
connection would be handed to other work. The *events* listener (`NOTIFY_CHANNEL`) follows
every event-writing commit, for the API's live feed: while it is connected, every such commit
anywhere reaches `newest_seq` within a round trip. The *work* listener (`WORK_CHANNEL` and
`CANCEL_CHANNEL`) hears only of commits that may have made jobs leasable, and of cancel
requests, for workers, so a worker is not woken by every other worker's lease and ack (a
process that never follows the event log, a worker, has no events listener at all). While a
listener is not connected, `PostgresStore` falls back to polling, and on reconnect it reads
`max(seq)` and wakes its waiters, so nothing that happened during the gap goes unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from conveyor.aio import wait_event
from conveyor.models import JobId
from conveyor.store.postgres.events import CANCEL_CHANNEL, NOTIFY_CHANNEL, WORK_CHANNEL

log = logging.getLogger("conveyor.store.postgres")

_QUIET_CHECK_SEC = 15.0
"""After this long without a notification, probe the connection with a query."""

EVENTS = (NOTIFY_CHANNEL,)
"""The events listener's channels: every event-writing commit."""
WORK = (WORK_CHANNEL, CANCEL_CHANNEL)
"""The work listener's channels: commits that may have made jobs leasable, cancel requests."""

_BACKOFF_MIN_SEC = 0.1
_BACKOFF_MAX_SEC = 5.0


class Listener:
    """Follows NOTIFYs on `channels`; `changed` is replaced (after being set) on each, and
    `notices` counts them (a payload-less note says "look", one with a seq says which).
    Notes on `CANCEL_CHANNEL` (one per requested cancellation: rare) go to the callbacks
    registered with `on_cancel` instead."""

    def __init__(self, conninfo: str, channels: tuple[str, ...], name: str) -> None:
        self._conninfo = conninfo
        self.channels = channels
        self._name = name
        self._cancel_callbacks: list[Callable[[JobId], None]] = []
        self.newest_seq = 0
        self.notices = 0
        """Notes (and reconnections) so far: a waiter that saw this many has missed none."""
        self.connected = False
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._was_connected = False
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"conveyor-postgres-{self._name}")

    async def wait_connected(self, timeout: float) -> bool:
        """True once LISTEN is active; a store opens fine without it (it polls meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await wait_event(self.changed, min(remaining, 0.05))
        return True

    async def stop(self) -> None:
        """Stop listening, at once even with the network cut: the connection's socket is
        shut down first, so the listener is not left waiting on it (a cancelled psycopg
        query would first send a cancel request over the same dead network)."""
        if self._task is not None:
            if self._conn is not None:
                shut_down(self._conn)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_cancel(self, callback: Callable[[JobId], None]) -> None:
        """Call `callback` with each job id sent on the cancel channel. A note sent while
        the listener was reconnecting is lost: heartbeats tell the worker then."""
        self._cancel_callbacks.append(callback)

    def _cancelled(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            job_id = uuid.UUID(payload)
            for callback in self._cancel_callbacks:
                callback(job_id)

    def saw(self, seq: int) -> None:
        """Record a committed seq (0: none known) and wake every waiter."""
        if seq > self.newest_seq:
            self.newest_seq = seq
        self.notices += 1
        self.changed.set()
        self.changed = asyncio.Event()

    async def _run(self) -> None:
        delay = _BACKOFF_MIN_SEC
        while True:
            self._was_connected = False
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                if self._was_connected:
                    log.warning("postgres listener lost its connection: %s", exc)
                    delay = _BACKOFF_MIN_SEC
                self.saw(0)  # waiters re-check by query, in case the loss hid a commit
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_SEC)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=f"conveyor-{self._name}"
        )
        self._conn = conn
        try:
            for channel in self.channels:
                await conn.execute(f"LISTEN {channel}")
            # Anything committed before LISTEN took effect is read here instead.
            cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM job_events")
            row = await cur.fetchone()
            self.connected = self._was_connected = True
            self.saw(int(row[0]) if row else 0)
            while True:
                async for note in conn.notifies(timeout=_QUIET_CHECK_SEC):
                    if note.channel == CANCEL_CHANNEL:
                        self._cancelled(note.payload)
                        continue
                    self.saw(int(note.payload) if note.payload.isdigit() else 0)
                await conn.execute("SELECT 1")
        finally:
            self.connected = False
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()


def shut_down(conn: psycopg.AsyncConnection[Any]) -> None:
    """Shut a connection's socket down (through a duplicate of its descriptor, which psycopg
    keeps owning and closes itself): whatever it waits for fails at once with a connection
    error, where a cancellation would first ask the server, over the same network, to
    cancel. For a store call past its deadline, and a listener that must stop."""
    with contextlib.suppress(OSError, psycopg.Error):
        duplicate = socket.fromfd(conn.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM)
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
