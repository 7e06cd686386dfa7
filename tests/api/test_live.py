"""`/ws`: events as they happen, catch-up from a sequence number, and the API key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import AppFactory


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.receive_text())
        if message["type"] != "ping":
            return message


def test_stream_sends_hello_then_each_event(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        hello = receive(ws)
        assert hello["type"] == "hello" and isinstance(hello["seq"], int)
        job = client.post("/jobs", json={"text": "Hi"}, headers={"X-Tenant-Id": "acme"}).json()
        event = receive(ws)
        assert event["type"] == "job_created" and event["jobId"] == job["id"]
        assert event["seq"] > hello["seq"]
        assert (event["status"], event["tenant"], event["task"]) == ("pending", "acme", "text")


def test_reconnect_with_since_replays_missed_events_in_order(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        start = receive(ws)["seq"]
    ids = [client.post("/jobs", json={"text": f"m{i}"}).json()["id"] for i in range(3)]
    with client.websocket_connect(f"/ws?since={start}") as ws:
        assert receive(ws)["type"] == "hello"
        replayed = [receive(ws) for _ in range(3)]
        assert [m["jobId"] for m in replayed] == ids
        assert [m["seq"] for m in replayed] == sorted(m["seq"] for m in replayed)
        live = client.post("/jobs", json={"text": "after"}).json()
        assert receive(ws)["jobId"] == live["id"]  # no duplicate of the replayed ones


def test_worker_events_reach_the_stream(make_client: AppFactory) -> None:
    client = make_client(run_worker=True)
    with client.websocket_connect("/ws") as ws:
        receive(ws)
        job = client.post("/jobs", json={"text": "Hi"}).json()
        seen = []
        while "job_succeeded" not in seen:
            message = receive(ws)
            assert message["jobId"] == job["id"]
            seen.append(message["type"])
        assert seen == ["job_created", "job_leased", "job_succeeded"]


def test_websocket_needs_the_key_when_one_is_set(make_client: AppFactory) -> None:
    client = make_client(api_key="s3cret")
    with client.websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert closed.value.code == 4401
    with client.websocket_connect("/ws?api_key=wrong") as ws, pytest.raises(WebSocketDisconnect):
        ws.receive_text()
    with client.websocket_connect("/ws?api_key=s3cret") as ws:
        assert receive(ws)["type"] == "hello"


def test_since_ahead_of_the_store_asks_for_a_refresh(client: TestClient) -> None:
    with client.websocket_connect("/ws?since=999999") as ws:
        hello = receive(ws)
        assert receive(ws) == {"type": "refresh", "seq": hello["seq"]}
        job = client.post("/jobs", json={"text": "Hi"}).json()
        assert receive(ws)["jobId"] == job["id"]


def test_a_backlog_too_large_to_replay_asks_for_a_refresh(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.api import live

    monkeypatch.setattr(live, "REPLAY_LIMIT", 2)
    with client.websocket_connect("/ws") as ws:
        start = receive(ws)["seq"]
    for i in range(3):
        client.post("/jobs", json={"text": f"b{i}"})
    with client.websocket_connect(f"/ws?since={start}") as ws:
        hello = receive(ws)
        assert receive(ws) == {"type": "refresh", "seq": hello["seq"]}
        live_job = client.post("/jobs", json={"text": "next"}).json()
        assert receive(ws)["jobId"] == live_job["id"]
