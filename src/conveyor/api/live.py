"""The live feed: one event follower per process, fanned out to every `/ws` client.

The follower tracks the store's `job_events` sequence (LISTEN/NOTIFY on PostgreSQL, a
cheap poll on SQLite) and pushes each event to bounded per-client queues. A client too slow
to keep up is disconnected (code 1013), not waited on; it reconnects with `?since=<seq>`
and gets what it missed replayed from the store, then the live stream, without gaps.

Each connection runs three tasks: the pump (replay, then the queue, onto the socket), the
reader (client frames), and a wait on the queue's overflow. Whichever ends first ends the
connection. The overflow cancels the pump wherever it waits, in a send too: a client that
stops reading fills its TCP window, after which every send waits for it, and a pump that
only looked at the overflow between sends would wait with it for ever, its queue full. The
feed is server-to-client only: client text frames up to `MAX_CLIENT_FRAME_BYTES` are
ignored (some clients send keepalives), a larger one closes with 1009 and a binary one with
1003. A `?since=` that is not a sequence number closes with 1008, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from conveyor.api.metrics import ApiMetrics
from conveyor.errors import StoreUnavailable
from conveyor.keys import Principal
from conveyor.logging import get_logger
from conveyor.models import JobEvent
from conveyor.store.base import Store

log = get_logger("conveyor.live")
router = APIRouter()

CLIENT_QUEUE_SIZE = 10_000
"""Events a client may have waiting to be sent before it is dropped as too slow (1013). The
queues hold references to the one text of each event, so a full queue costs little. More
than `FEED_BATCH`: the follower publishes a batch without yielding, so a smaller queue
would overflow on a burst however fast its client reads."""
FEED_BATCH = 1000
"""Events the follower reads from the store at a time."""
REPLAY_LIMIT = 5_000
KEEPALIVE_SEC = 15.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
CLOSE_SERVICE_RESTART = 1012
CLOSE_STORE_DOWN = 1011
CLOSE_POLICY_VIOLATION = 1008
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TOO_BIG = 1009
MAX_CLIENT_FRAME_BYTES = 4096
"""The largest client text frame that is ignored rather than closed on."""
CLOSE_GRACE_SEC = 1.0
"""How long a close frame may wait to be written; a connection backed up for longer is
simply ended (the client sees 1006 and reconnects like after any other close)."""
MAX_SEQ = 2**63 - 1
"""Event sequence numbers are 64-bit (`bigint` on PostgreSQL)."""
_SEQ = re.compile(r"[0-9]{1,19}")


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
    tenant: str | None = None
    """Only this tenant's events (a tenant's key); None: every tenant's."""


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

    def subscribe(self, tenant: str | None = None) -> Subscriber:
        subscriber = Subscriber(tenant=tenant)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        """Connected `/ws` clients: a dropped one leaves at once, whatever its TCP state."""
        return len(self._subscribers)

    async def _follow(self) -> None:
        while True:
            try:
                if self.seq < 0:
                    self.seq = await self.store.last_event_seq()
                latest = await self.store.wait_for_change(self.seq, KEEPALIVE_SEC)
                while latest > self.seq:
                    events = await self.store.events_after(self.seq, FEED_BATCH)
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
            if subscriber.tenant is not None and subscriber.tenant != event.tenant:
                continue
            try:
                subscriber.queue.put_nowait((event.seq, text))
            except asyncio.QueueFull:
                subscriber.overflowed.set()


@dataclass(frozen=True, slots=True)
class Close:
    """How the server ends a connection: a WebSocket close code and its reason."""

    code: int
    reason: str


def parse_since(raw: str | None) -> int | None:
    """`?since=` as a sequence number (None when absent or empty, like no history); raises
    ValueError for anything else: signs, fractions, exponents, spaces, non-ASCII digits,
    more than 64 bits. Checked here, not by FastAPI, whose refusal of a WebSocket happens
    before the handshake, so the client would see a bare HTTP 403 and no reason."""
    if raw is None or raw == "":
        return None
    if _SEQ.fullmatch(raw) is None or int(raw) > MAX_SEQ:
        raise ValueError(f"since must be an event sequence number (0 to {MAX_SEQ})")
    return int(raw)


@router.websocket("/ws")
async def live_events(websocket: WebSocket, since: str | None = None,
                      api_key: str | None = None) -> None:
    """Stream job events (a tenant's key: its own tenant's only). `?since=<seq>` replays
    what a reconnecting client missed; `?api_key=` authenticates browsers, which cannot set
    headers on a WebSocket (the key is checked before routing, `conveyor.api.auth`)."""
    app = websocket.app
    await websocket.accept()
    principal: Principal | None = websocket.scope.get("state", {}).get("principal")
    if principal is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="missing or invalid API key")
        return
    try:
        start = parse_since(since)
    except ValueError as exc:
        await websocket.close(code=CLOSE_POLICY_VIOLATION, reason=str(exc))
        return
    feed: EventFeed = app.state.feed
    subscriber = feed.subscribe(principal.tenant)
    try:
        close = await _stream(websocket, feed, subscriber, start)
        if close is not None:
            await _close(websocket, close)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        feed.unsubscribe(subscriber)


async def _stream(websocket: WebSocket, feed: EventFeed, subscriber: Subscriber,
                  since: int | None) -> Close | None:
    """Run the connection until the client leaves (None) or the server ends it (its Close)."""
    pump = asyncio.create_task(_pump(websocket, feed, subscriber, since))
    reader = asyncio.create_task(_read_client(websocket))
    overflow = asyncio.create_task(subscriber.overflowed.wait())
    tasks = (pump, reader, overflow)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    # The pump must be off the socket before a close frame goes out. (Not awaited when this
    # task is cancelled itself: a gather would re-raise the tasks' anonymous CancelledError
    # in place of the caller's, which anyio's cancel scopes then fail to recognise.)
    await asyncio.wait(tasks)
    if overflow in done:  # first: when several ended at once, falling behind is the reason
        if subscriber.shutting_down:
            return Close(CLOSE_SERVICE_RESTART, "server stopping")
        log.warning("live_client_dropped", queued=subscriber.queue.qsize(),
                    reason="too slow")
        return Close(CLOSE_TOO_SLOW, "too slow; reconnect with since")
    if reader in done:
        return reader.result()
    try:
        pump.result()
    except StoreUnavailable:
        return Close(CLOSE_STORE_DOWN, "the job store is unavailable; reconnect with since")
    return None


async def _pump(websocket: WebSocket, feed: EventFeed, subscriber: Subscriber,
                since: int | None) -> None:
    """hello, the replay a `since` asks for (or a refresh), then the queue, with pings."""
    latest = max(feed.seq, await feed.store.last_event_seq())
    await websocket.send_text(json.dumps({"type": "hello", "seq": latest}))
    last_sent = latest if since is None else since
    if since is not None and since > latest:
        # The client saw a sequence this store never reached (the database was reset):
        # its view is stale, so it must refetch, then follow from here.
        await websocket.send_text(json.dumps({"type": "refresh", "seq": latest}))
        last_sent = latest
    elif since is not None and since < latest:
        backlog = await feed.store.events_after(since, REPLAY_LIMIT + 1)
        if len(backlog) > REPLAY_LIMIT:
            await websocket.send_text(json.dumps({"type": "refresh", "seq": latest}))
            last_sent = latest
        else:
            for event in backlog:
                if subscriber.tenant is None or subscriber.tenant == event.tenant:
                    await websocket.send_text(json.dumps(event_message(event)))
            if backlog:
                last_sent = backlog[-1].seq
    while True:
        try:
            seq, text = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_SEC)
        except TimeoutError:
            await websocket.send_text('{"type":"ping"}')
            continue
        if seq > last_sent:
            await websocket.send_text(text)
            last_sent = seq


async def _read_client(websocket: WebSocket) -> Close | None:
    """Read client frames, so a close from the client ends the stream at once: None when it
    leaves, a Close for a frame the feed refuses. Small text frames are ignored."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            if message.get("bytes") is not None:
                return Close(CLOSE_UNSUPPORTED_DATA, "the feed takes no binary frames")
            text = message.get("text") or ""
            if len(text) > MAX_CLIENT_FRAME_BYTES // 4 and (
                    len(text.encode("utf-8", "surrogatepass")) > MAX_CLIENT_FRAME_BYTES):
                return Close(CLOSE_TOO_BIG, f"text frames over {MAX_CLIENT_FRAME_BYTES} bytes "
                             "are refused: the feed takes no client messages")
    return None


async def _close(websocket: WebSocket, close: Close) -> None:
    """Send the close frame, waiting at most `CLOSE_GRACE_SEC`: behind a client that stopped
    reading it would wait for ever (every send waits for the TCP window)."""
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
        async with asyncio.timeout(CLOSE_GRACE_SEC):
            await websocket.close(code=close.code, reason=close.reason)
