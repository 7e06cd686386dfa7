"""SQLite: workers are woken by work, not by every commit (`wake.py`, "Who hears what").

A raw datagram socket in the wake directory stands for a peer: named `….work.sock` it is a
worker's, `….sock` an API's. Datagrams queue in send order, so a change is followed by a
marking submit, and what the socket holds before the marker's datagram is the change's.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from conveyor.models import Ack, Fail, NewJob, SubmitResult
from conveyor.store.sqlite import SqliteStore, wake
from conveyor.store.sqlite.wake import wake_directory

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no wake-ups on Windows")

HOUR = 3600.0
DEADLINE = 10.0
WORKER = "w-1"
LEASE_FOR = 30.0
DATAGRAM = struct.Struct("!Q?")


@pytest.fixture
async def actor(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "conveyor.db")
    try:
        yield store
    finally:
        await store.close()


@contextlib.contextmanager
def raw_peer(store: SqliteStore, suffix: str) -> Iterator[socket.socket]:
    """A socket the store's rounds reach, as a peer named with `suffix`."""
    path = wake_directory(store.path) / f"1-{secrets.token_hex(4)}{suffix}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(DEADLINE)
    if store._wake is not None:  # list again at the next round (mtimes can be coarse)
        store._wake._listed_mtime = None
    try:
        yield sock
    finally:
        sock.close()
        path.unlink()


def job(tenant: str = "default", queue: str = "default") -> NewJob:
    return NewJob("text", {"text": "x"}, tenant=tenant, queue=queue)


async def heard(store: SqliteStore, peer: socket.socket,
                change: Callable[[], Awaitable[object]]) -> list[tuple[int, bool]]:
    """The datagrams `peer` got for `change`: those before the marking submit's."""
    await asyncio.sleep(0.002)  # past the store's coalescing millisecond: rounds go out alone
    await change()
    marker = await store.submit(job(queue="marker"))
    marker_seq = max(event.seq for event in await store.job_events(marker.job.id))
    got: list[tuple[int, bool]] = []
    while True:
        seq, work = DATAGRAM.unpack(await asyncio.to_thread(peer.recv, 16))
        if seq >= marker_seq and work:
            return got
        got.append((seq, work))


async def test_a_worker_hears_only_of_work_and_the_api_of_every_commit(
    actor: SqliteStore,
) -> None:
    await actor.submit_many([job() for _ in range(4)])
    with raw_peer(actor, ".work.sock") as worker, raw_peer(actor, ".sock") as api:
        leases = await actor.lease(WORKER, ["default"], 2, LEASE_FOR)
        for quiet in (lambda: actor.lease(WORKER, ["default"], 1, LEASE_FOR),
                      lambda: actor.finish([Ack(leases[0])], WORKER),
                      lambda: actor.pause_queue("default")):
            assert await heard(actor, worker, quiet) == []
        assert await heard(actor, worker, lambda: actor.finish(
            [Fail(leases[1], "boom")], WORKER)) != []  # pending again
        assert await heard(actor, worker, lambda: actor.resume_queue("default")) != []
        assert await heard(actor, worker, lambda: actor.set_tenant("acme", max_running=1)) != []
        reserved = await actor.reserve(WORKER, ["default"], 1, LEASE_FOR)
        assert await heard(actor, worker, lambda: actor.release(reserved)) != []
        # The API's socket heard of the quiet commits too (rounds without the work flag).
        flags = []
        api.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                flags.append(DATAGRAM.unpack(api.recv(16))[1])
        assert False in flags and True in flags


async def test_a_capped_tenants_finished_job_is_work(actor: SqliteStore) -> None:
    await actor.set_tenant("acme", max_running=1)
    await actor.submit_many([job("acme"), job("acme")])
    [lease] = await actor.lease(WORKER, ["default"], 2, LEASE_FOR)
    with raw_peer(actor, ".work.sock") as worker:
        assert await heard(actor, worker, lambda: actor.finish([Ack(lease)], WORKER)) != []
        [reserved] = await actor.reserve(WORKER, ["default"], 2, LEASE_FOR)
        assert await heard(actor, worker, lambda: actor.cancel(reserved.job_id)) != []
        plain: list[SubmitResult] = []

        async def submit_plain() -> None:  # heard here, so not in the cancel's datagrams
            plain.append(await actor.submit(job("other")))

        assert await heard(actor, worker, submit_plain) != []
        assert await heard(actor, worker, lambda: actor.cancel(plain[0].job.id)) == []


async def test_a_store_waiting_for_work_is_woken_by_a_submit(
    actor: SqliteStore,
) -> None:
    """A store that has only waited for work keeps its `.work.sock` name; one that followed
    the event log is renamed, and its old name is gone."""
    waiter = await SqliteStore.open(actor.path)
    try:
        waiter.poll_sec = HOUR  # only a datagram can move the mark now
        mark = await waiter.wait_for_work(0, 0)
        assert waiter.wake_socket is not None and waiter.wake_socket.name.endswith(".work.sock")
        await actor.submit(job())
        woken = await waiter.wait_for_work(mark, DEADLINE)
        assert woken > mark, "the submit's datagram never woke the waiting store"
        old = waiter.wake_socket
        await waiter.wait_for_change(0, 0)
        assert waiter.wake_socket.name.endswith(".sock")
        assert not waiter.wake_socket.name.endswith(".work.sock") and not old.exists()
    finally:
        await waiter.close()


async def test_once_listed_a_waiting_store_sleeps_through_other_workers_acks(
    actor: SqliteStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its first seconds (here at once), a work-only store no longer reads the sequence
    for commits it was not told of: leases and acks of others move no mark, even polled
    every 10 ms; a submit still does."""
    monkeypatch.setattr(wake, "LISTED_WITHIN_SEC", 0.0)
    waiter = await SqliteStore.open(actor.path)
    try:
        waiter.poll_sec = 0.01
        mark = await waiter.wait_for_work(0, 0)
        await actor.submit(job())
        mark = await waiter.wait_for_work(mark, DEADLINE)
        [lease] = await actor.lease(WORKER, ["default"], 1, LEASE_FOR)
        await actor.finish([Ack(lease)], WORKER)
        assert await waiter.wait_for_work(mark, 0.3) == mark  # thirty polls' worth
        await actor.submit(job())
        assert await waiter.wait_for_work(mark, DEADLINE) > mark
    finally:
        await waiter.close()
