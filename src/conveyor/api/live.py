"""The live feed: one event follower per process, fanned out to every `/ws` client.

The follower tracks the store's `job_events` sequence (LISTEN/NOTIFY on PostgreSQL, a
cheap poll on SQLite) and pushes each event to bounded per-client queues. A client too slow
to keep up is disconnected (code 1013), not waited on; it reconnects with `?since=<seq>`
and gets what it missed replayed from the store, then the live stream, without gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from conveyor.api.deps import key_matches
from conveyor.api.metrics import ApiMetrics
from conveyor.errors import StoreUnavailable
from conveyor.logging import get_logger
from conveyor.models import JobEvent
from conveyor.store.base import Store

log = get_logger("conveyor.live")
router = APIRouter()

CLIENT_QUEUE_SIZE = 10_000
REPLAY_LIMIT = 5_000
KEEPALIVE_SEC = 15.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
CLOSE_SERVICE_RESTART = 1012


def event_message(event: JobEvent) -> dict[str, Any]:
    return {
        "type": event.type.value,
        "seq": event.seq,
        "jobId": str(event.job_id),
        "status": event.status.value,
        "attempt": event.attempt,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "tenant": event.tenant,
        "task": event.task,
        "worker": event.worker,
        "error": event.error,
        "data": dict(event.data),
    }


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[tuple[int, str]] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE)
    )
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    shutting_down: bool = False


class EventFeed:
    def __init__(self, store: Store, metrics: ApiMetrics | None = None) -> None:
        self.store = store
        self.metrics = metrics
        self.seq = 0
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            self.seq = await self.store.last_event_seq()
        except StoreUnavailable:
            self.seq = -1  # unknown: learnt on the first successful read, never replayed
        self._task = asyncio.create_task(self._follow(), name="conveyor-event-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscriber in self._subscribers:
            subscriber.shutting_down = True
            subscriber.overflowed.set()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def _follow(self) -> None:
        while True:
            try:
                if self.seq < 0:
                    self.seq = await self.store.last_event_seq()
                latest = await self.store.wait_for_change(self.seq, KEEPALIVE_SEC)
                while latest > self.seq:
                    events = await self.store.events_after(self.seq, 1000)
                    if not events:
                        break
                    for event in events:
                        self._publish(event)
                    self.seq = events[-1].seq
            except StoreUnavailable:
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("event_feed_error")
                await asyncio.sleep(1.0)

    def _publish(self, event: JobEvent) -> None:
        if self.metrics is not None:
            self.metrics.observe(event)
        if not self._subscribers:
            return
        text = json.dumps(event_message(event), separators=(",", ":"))
        for subscriber in self._subscribers:
            try:
                subscriber.queue.put_nowait((event.seq, text))
            except asyncio.QueueFull:
                subscriber.overflowed.set()


@router.websocket("/ws")
async def live_events(websocket: WebSocket, since: int | None = None,
                      api_key: str | None = None) -> None:
    """Stream job events. `?since=<seq>` replays what a reconnecting client missed;
    `?api_key=` authenticates browsers, which cannot set headers on a WebSocket."""
    app = websocket.app
    await websocket.accept()
    given = api_key if api_key is not None else websocket.headers.get("x-api-key")
    if not key_matches(app.state.settings.api_key, given):
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="missing or invalid API key")
        return
    feed: EventFeed = app.state.feed
    subscriber = feed.subscribe()
    reader = asyncio.create_task(_drain_incoming(websocket))
    try:
        await _stream(websocket, feed, subscriber, since, reader)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.unsubscribe(subscriber)
        reader.cancel()


async def _stream(websocket: WebSocket, feed: EventFeed, subscriber: Subscriber,
                  since: int | None, reader: asyncio.Task[None]) -> None:
    latest = max(feed.seq, await feed.store.last_event_seq())  # 1011 if the store is down
    await websocket.send_text(json.dumps({"type": "hello", "seq": latest}))
    last_sent = latest if since is None or since < 0 else since
    if since is not None and since > latest:
        # The client saw a sequence this store never reached (the database was reset):
        # its view is stale, so it must refetch, then follow from here.
        await websocket.send_text(json.dumps({"type": "refresh", "seq": latest}))
        last_sent = latest
    elif since is not None and 0 <= since < latest:
        backlog = await feed.store.events_after(since, REPLAY_LIMIT + 1)
        if len(backlog) > REPLAY_LIMIT:
            await websocket.send_text(json.dumps({"type": "refresh", "seq": latest}))
            last_sent = latest
        else:
            for event in backlog:
                await websocket.send_text(json.dumps(event_message(event)))
            if backlog:
                last_sent = backlog[-1].seq
    overflow = asyncio.ensure_future(subscriber.overflowed.wait())
    try:
        while True:
            getter = asyncio.ensure_future(subscriber.queue.get())
            done, _ = await asyncio.wait({getter, overflow, reader}, timeout=KEEPALIVE_SEC,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
            if reader in done:
                return
            if overflow in done:
                if subscriber.shutting_down:
                    await websocket.close(code=CLOSE_SERVICE_RESTART, reason="server stopping")
                else:
                    await websocket.close(code=CLOSE_TOO_SLOW,
                                          reason="too slow; reconnect with since")
                return
            if not done:
                await websocket.send_text('{"type":"ping"}')
                continue
            seq, text = getter.result()
            if seq > last_sent:
                await websocket.send_text(text)
                last_sent = seq
    finally:
        overflow.cancel()


async def _drain_incoming(websocket: WebSocket) -> None:
    """Read (and ignore) client frames so a close from the client ends the stream at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
