"""`/ws` against bad input and bad clients: `since` values that are not sequence numbers,
client frames (the feed is server-to-client only), and a client that stops reading.

What only a real connection shows (the handshake before a close, uvicorn's own frame limit,
TCP back-pressure) runs against uvicorn in a thread with the app built as `conveyor api`
builds it; the rest uses the test client.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conveyor.api import live
from conveyor.config import Settings
from conveyor.errors import StoreUnavailable
from conveyor.runtime import build_app, build_registry


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.receive_text())
        if message["type"] != "ping":
            return message


def closed_by_server(ws: WebSocketTestSession) -> WebSocketDisconnect:
    """Read until the server closes; the close (its code and reason)."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_text()
    return closed.value


# -- ?since= ----------------------------------------------------------------------------------

BAD_SINCE = ["-1", "-99999999999999999999", "abc", "1.5", "1e3", "1.0", " 1", "1 ", "+1",
             "0x10", "1_000", "\u0661\u0662", "null", "9" * 20, str(2**63), "%00"]


def test_a_since_that_is_no_sequence_number_closes_with_1008_and_says_why(
    client: TestClient,
) -> None:
    for since in BAD_SINCE:
        with client.websocket_connect("/ws", params={"since": since}) as ws:
            closed = closed_by_server(ws)
        assert closed.code == live.CLOSE_POLICY_VIOLATION, since
        assert "since must be an event sequence number" in closed.reason, since
    with client.websocket_connect("/ws?since=1&since=x") as ws:  # the last one counts
        assert closed_by_server(ws).code == live.CLOSE_POLICY_VIOLATION


def test_an_empty_since_means_no_history(client: TestClient) -> None:
    client.post("/jobs", json={"text": "before"})
    with client.websocket_connect("/ws?since=") as ws:
        assert receive(ws)["type"] == "hello"
        job = client.post("/jobs", json={"text": "after"}).json()
        assert receive(ws)["jobId"] == job["id"]  # nothing replayed before it


def test_the_largest_sequence_number_is_ahead_of_the_store_so_a_refresh(
    client: TestClient,
) -> None:
    with client.websocket_connect(f"/ws?since={2**63 - 1}") as ws:
        hello = receive(ws)
        assert receive(ws) == {"type": "refresh", "seq": hello["seq"]}


def test_since_zero_replays_the_whole_history(client: TestClient) -> None:
    ids = [client.post("/jobs", json={"text": f"j{i}"}).json()["id"] for i in range(2)]
    with client.websocket_connect("/ws?since=0") as ws:
        assert receive(ws)["type"] == "hello"
        assert [receive(ws)["jobId"] for _ in ids] == ids


# -- client frames ----------------------------------------------------------------------------

def test_small_text_frames_from_the_client_are_ignored(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert receive(ws)["type"] == "hello"
        ws.send_text("ping")
        ws.send_text("é" * (live.MAX_CLIENT_FRAME_BYTES // 2))  # exactly the limit in UTF-8
        job = client.post("/jobs", json={"text": "still here"}).json()
        assert receive(ws)["jobId"] == job["id"]


@pytest.mark.parametrize("text", ["x" * (live.MAX_CLIENT_FRAME_BYTES + 1),
                                  "é" * (live.MAX_CLIENT_FRAME_BYTES // 2 + 1),
                                  "x" * 5_000_000])
def test_an_oversized_text_frame_closes_with_1009(client: TestClient, text: str) -> None:
    with client.websocket_connect("/ws") as ws:
        assert receive(ws)["type"] == "hello"
        ws.send_text(text)
        closed = closed_by_server(ws)
    assert closed.code == live.CLOSE_TOO_BIG and "refused" in closed.reason


def test_a_binary_frame_closes_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert receive(ws)["type"] == "hello"
        ws.send_bytes(b"\x00\x01")
        closed = closed_by_server(ws)
    assert closed.code == live.CLOSE_UNSUPPORTED_DATA and "binary" in closed.reason


def test_a_client_further_behind_than_its_queue_is_told_1013(
    client: TestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst larger than the queue (the follower publishes a batch at once): when the
    socket can still be written to, the drop is a proper close with 1013."""
    monkeypatch.setattr(live, "CLIENT_QUEUE_SIZE", 2)
    with client.websocket_connect("/ws") as ws:
        assert receive(ws)["type"] == "hello"
        answer = client.post("/jobs/batch", json={"jobs": [{"text": "b"}] * 5})
        assert answer.status_code == 201
        closed = closed_by_server(ws)
    assert closed.code == live.CLOSE_TOO_SLOW and "since" in closed.reason
    assert client.app.state.feed.subscriber_count == 0  # type: ignore[attr-defined]


def test_a_store_that_fails_as_the_stream_starts_closes_it_with_1011(
    client: TestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unavailable() -> int:
        raise StoreUnavailable("down")

    monkeypatch.setattr(client.app.state.store, "last_event_seq",  # type: ignore[attr-defined]
                        unavailable)
    with client.websocket_connect("/ws") as ws:
        closed = closed_by_server(ws)
    assert closed.code == live.CLOSE_STORE_DOWN and "reconnect" in closed.reason


# -- a real server ----------------------------------------------------------------------------

SMALL_BUFFER = 4096
"""Socket buffer size for the slow-reader test. With the defaults a loopback connection
buffers megabytes (the kernel grows them), so a client stops reading only after thousands
of events; with small ones, after a few hundred. The behaviour is the same."""


@dataclass
class LiveServer:
    app: FastAPI
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/ws{query}"

    def subscribers(self) -> int:
        return int(self.app.state.feed.subscriber_count)


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app under uvicorn in a thread, on a socket whose accepted connections get
    `SMALL_BUFFER` send buffers (they inherit the listening socket's)."""
    settings = Settings(database_url=database_url, dashboard_dir=None,
                        rate_limit_per_minute=1_000_000)
    app = build_app(settings, build_registry(settings))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                           lifespan="on", ws_ping_interval=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(app, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def _recv_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
        if message["type"] != "ping":
            return message


def _close_of(ws: ClientConnection, timeout: float = 10.0) -> tuple[int | None, str]:
    """Read until the connection closes; the close code and reason the server sent."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    received = closed.value.rcvd
    return (received.code, received.reason) if received is not None else (None, "")


def test_a_bad_since_is_refused_after_the_handshake(live_server: LiveServer) -> None:
    """FastAPI would refuse a bad query parameter before the handshake, which a browser
    sees as a failed connection without a reason; the feed accepts, then says why."""
    with connect(live_server.ws("?since=-5")) as ws:
        code, reason = _close_of(ws)
    assert code == live.CLOSE_POLICY_VIOLATION and "since" in reason


def test_frames_a_real_connection_refuses(live_server: LiveServer) -> None:
    """Above the feed's limit the app closes with 1009; above uvicorn's `ws_max_size`
    (16 MiB) uvicorn does, with the same code. Binary: 1003."""
    for size in (live.MAX_CLIENT_FRAME_BYTES + 1, 17 * 1024 * 1024):
        with connect(live_server.ws(), max_size=None) as ws:
            assert _recv_json(ws)["type"] == "hello"
            ws.send("x" * size)
            assert _close_of(ws)[0] == live.CLOSE_TOO_BIG, size
    with connect(live_server.ws()) as ws:
        assert _recv_json(ws)["type"] == "hello"
        ws.send(b"\x00" * 10)
        assert _close_of(ws)[0] == live.CLOSE_UNSUPPORTED_DATA
    assert _until(lambda: live_server.subscribers() == 0, "the refused clients to be gone")


def _until(check: Any, what: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return True


def _raw_websocket(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then reads nothing more, with a
    small receive buffer so its TCP window fills quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    sock.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "the server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_a_client_that_stops_reading_is_dropped_and_the_others_are_served(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small, so the test needs thousands of events rather than tens of thousands, but above
    # the follower's batch, which a client that reads would otherwise overflow on a burst.
    monkeypatch.setattr(live, "CLIENT_QUEUE_SIZE", 2 * live.FEED_BATCH)
    with connect(live_server.ws(), max_queue=None) as reader:  # reads all the time
        assert _recv_json(reader)["type"] == "hello"
        slow = _raw_websocket(live_server.port)
        _until(lambda: live_server.subscribers() == 2, "both clients to subscribe")
        produced: list[str] = []
        with httpx.Client(base_url=live_server.http, timeout=30) as http:
            # Far more than the queue bound plus every buffer on the way: the slow client
            # must be dropped on the way, or the loop ends with it still subscribed.
            while live_server.subscribers() == 2 and len(produced) < 20_000:
                answer = http.post("/jobs/batch", json={"jobs": [{"text": "e"}] * 100})
                assert answer.status_code == 201, answer.text
                produced += [job["id"] for job in answer.json()["jobs"]]
            _until(lambda: live_server.subscribers() == 1, "the slow client to be dropped")
            dropped_after = len(produced)
            assert dropped_after < 20_000, "dropped only after the producing stopped"
            # The one that reads gets everything, before and after the drop.
            last = http.post("/jobs", json={"text": "after the drop"}).json()["id"]
        created: list[str] = []
        while last not in created:
            message = _recv_json(reader)
            if message["type"] == "job_created":
                created.append(message["jobId"])
        assert created == [*produced, last]

    # The dropped connection ends: once its client reads again it gets what was already on
    # the wire, then the end of the stream, not the rest of the events.
    received = b""
    with slow:
        slow.settimeout(10)
        while True:
            try:
                chunk = slow.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                pytest.fail("the dropped client's connection never ended")
            if not chunk:
                break
            received += chunk
    assert received.count(b'"job_created"') < dropped_after
