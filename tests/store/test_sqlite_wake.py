"""SQLite's cross-process wake-ups (`conveyor.store.sqlite.wake`), with real processes.

The waiting side sets its fallback poll to an hour: a waiter that returns within seconds was
woken by a datagram, so none of these tests depends on how fast the machine is. Peers are
`python -c PEER` processes; they print JSON lines: first `{"socket": …, "seq": …}`, then
`{"seq": …}` each time `wait_for_change` returns, and their log lines in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.models import NewJob
from conveyor.store.sqlite import SqliteStore
from conveyor.store.sqlite.wake import ENV_SWITCH, wake_directory
from tests.processes import until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no wake-ups on Windows")

HOUR = 3600.0
DEADLINE = 10.0
"""Generous: a peer polls once an hour, so only a wake-up answers in time."""
SHM = Path("/dev/shm")
"""tmpfs: commits without an fsync, for a burst faster than one commit per millisecond."""
HAVE_SHM = SHM.is_dir()

PEER = """
import asyncio, json, sys
from pathlib import Path
from conveyor.logging import configure_logging
from conveyor.store.sqlite import SqliteStore

async def main(path: str, poll_sec: float) -> None:
    configure_logging("info")
    store = await SqliteStore.open(Path(path))
    store.poll_sec = poll_sec
    seq = await store.wait_for_change(0, 0)  # a follower of every event from here on
    socket = None if store.wake_socket is None else str(store.wake_socket)
    print(json.dumps({"socket": socket, "seq": seq}), flush=True)
    while True:
        seq = await store.wait_for_change(seq, 60.0)
        print(json.dumps({"seq": seq}), flush=True)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


class Peer:
    """A store on the same file in another process, waiting for changes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.logs: list[dict[str, Any]] = []
        self.ready: dict[str, Any] = {}

    @classmethod
    async def start(cls, db: Path, poll_sec: float = HOUR) -> Peer:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PEER, str(db), str(poll_sec),
            stdout=asyncio.subprocess.PIPE,
        )
        peer = cls(process)
        peer.ready = await peer.next_line("socket", 60.0)
        return peer

    @property
    def socket(self) -> Path | None:
        return None if self.ready["socket"] is None else Path(self.ready["socket"])

    async def next_line(self, key: str, timeout: float = DEADLINE) -> dict[str, Any]:
        """The next line of ours with `key` (log lines are kept aside)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    raise AssertionError(f"peer exited ({await self.process.wait()})")
                line = json.loads(raw)
                if "event" in line:
                    self.logs.append(line)
                elif key in line:
                    return dict(line)

    async def seen(self, seq: int, timeout: float = DEADLINE) -> int:
        """Wait until the peer's `wait_for_change` has returned `seq` or later."""
        async with asyncio.timeout(timeout):
            while True:
                seen = int((await self.next_line("seq", timeout))["seq"])
                if seen >= seq:
                    return seen

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    """Peers a test starts; killed at the end, whatever happened."""
    started: list[Peer] = []
    yield started
    for peer in started:
        await peer.kill()


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "conveyor.db")
    try:
        yield store
    finally:
        await store.close()


async def submit(store: SqliteStore, text: str = "x") -> int:
    """Submit a job; the seq of its `job_created` event."""
    result = await store.submit(NewJob("text", {"text": text}))
    return max(event.seq for event in await store.job_events(result.job.id))


async def test_a_commit_wakes_a_waiter_in_another_process(
    writer: SqliteStore, peers: list[Peer]
) -> None:
    peer = await Peer.start(writer.path)
    peers.append(peer)
    assert peer.socket is not None and writer.wake_socket is not None
    assert peer.socket.parent == writer.wake_socket.parent
    for round_ in range(3):
        seq = await submit(writer, f"round {round_}")
        assert await peer.seen(seq) == seq


async def test_a_waiter_is_woken_by_a_commit_of_another_process(writer: SqliteStore) -> None:
    """The other direction: this process waits, a short-lived process writes."""
    writer.poll_sec = HOUR
    since = await writer.last_event_seq()
    waiter = asyncio.create_task(writer.wait_for_change(since, 60.0))
    script = (
        "import asyncio, sys; from pathlib import Path; from conveyor.models import NewJob;"
        "from conveyor.store.sqlite import SqliteStore\n"
        "async def main():\n"
        "    store = await SqliteStore.open(Path(sys.argv[1]))\n"
        "    await store.submit(NewJob('text', {'text': 'from afar'}))\n"
        "    await asyncio.sleep(60)\n"  # stays open: the wake-up, not its close, must do it
        "asyncio.run(main())\n"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(writer.path))
    try:
        async with asyncio.timeout(30.0):  # includes the interpreter's start
            assert await waiter > since
    finally:
        process.kill()
        await process.wait()


async def test_a_dead_peers_socket_is_removed_and_writes_go_on(
    writer: SqliteStore, peers: list[Peer]
) -> None:
    dead = await Peer.start(writer.path)
    await dead.kill()  # SIGKILL: its socket file stays behind
    assert dead.socket is not None and dead.socket.exists()
    await submit(writer)
    await until(lambda: _gone(dead.socket), timeout=DEADLINE, message="stale socket removed")
    live = await Peer.start(writer.path)
    peers.append(live)
    seq = await submit(writer)
    assert await live.seen(seq) == seq


async def _gone(path: Path | None) -> bool:
    return path is not None and not await asyncio.to_thread(path.exists)


async def test_the_last_commit_of_a_burst_reaches_the_peers(tmp_path: Path) -> None:
    """Commits less than a millisecond apart share a round of datagrams: at most one round
    per millisecond goes out, and the round at the end of a burst carries its last seq. On
    tmpfs (no fsync cost) the commits of the burst come faster than one per millisecond."""
    base = SHM if HAVE_SHM else tmp_path
    db = base / f"conveyor-wake-test-{os.getpid()}-{id(tmp_path):x}.db"
    writer = await SqliteStore.open(db)
    waiter = await SqliteStore.open(db)
    waiter.poll_sec = HOUR
    counter = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    counter.setblocking(False)
    counter_path = wake_directory(db) / "counter.sock"
    counter.bind(str(counter_path))
    received = 0

    def count() -> None:
        nonlocal received
        with contextlib.suppress(BlockingIOError):
            while True:
                counter.recv(16)
                received += 1

    loop = asyncio.get_running_loop()
    loop.add_reader(counter.fileno(), count)
    try:
        seq = await waiter.wait_for_change(0, 0)  # its one read; from now on only datagrams
        started = loop.time()
        for index in range(300):
            await writer.submit(NewJob("text", {"text": str(index)}))
        elapsed_ms = (loop.time() - started) * 1000
        last = await writer.last_event_seq()
        async with asyncio.timeout(DEADLINE):
            while seq < last:
                seq = await waiter.wait_for_change(seq, 60.0)
        await asyncio.sleep(0.01)  # the counter's last datagram, if any is still queued
        assert 0 < received <= elapsed_ms + 2, (received, elapsed_ms)
    finally:
        loop.remove_reader(counter.fileno())
        counter.close()
        counter_path.unlink()
        await waiter.close()
        await writer.close()
        for path in [Path(f"{db}{suffix}") for suffix in ("-wal", "-shm", "")]:
            path.unlink(missing_ok=True)
        wake_directory(db).rmdir()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states")
async def test_a_peer_whose_queue_overflowed_reads_what_it_missed(
    writer: SqliteStore, peers: list[Peer]
) -> None:
    """A stopped peer's queue fills (net.unix.max_dgram_qlen) and later datagrams are
    refused; resumed, it finds its queue full, so it reads the sequence itself instead of
    trusting the older seqs it was sent."""
    peer = await Peer.start(writer.path)
    peers.append(peer)
    assert peer.socket is not None
    pid = peer.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        await until(lambda: _stopped(pid), timeout=DEADLINE, message="peer stopped")
        last = 0
        for index in range(40):
            last = await submit(writer, str(index))
            await asyncio.sleep(0.002)  # a round each: more datagrams than the queue holds
    finally:
        os.kill(pid, signal.SIGCONT)
    assert await peer.seen(last) == last


async def _stopped(pid: int) -> bool:
    stat_line = await asyncio.to_thread(Path(f"/proc/{pid}/stat").read_text)
    return stat_line.rsplit(")", 1)[1].split()[0] == "T"


async def test_a_peer_that_never_reads_does_not_hold_up_writes(writer: SqliteStore) -> None:
    """Its queue fills; sends to it then fail at once (EAGAIN) and are dropped."""
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = wake_directory(writer.path) / "mute.sock"
    mute.bind(str(path))
    try:
        async with asyncio.timeout(60.0):
            for index in range(50):
                await submit(writer, str(index))
                await asyncio.sleep(0.0015)  # a round each
        mute.setblocking(False)
        queued = 0
        with contextlib.suppress(BlockingIOError):
            while mute.recv(16):
                queued += 1
        assert 0 < queued < 50
    finally:
        mute.close()
        path.unlink()


def _block_with_a_file(directory: Path) -> None:
    directory.write_text("not a directory")


def _block_by_opening_it(directory: Path) -> None:
    directory.mkdir()
    directory.chmod(0o755)


def _block_by_giving_it_away(directory: Path) -> None:
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)


@pytest.mark.parametrize("block", [
    pytest.param(_block_with_a_file, id="a file in the way"),
    pytest.param(_block_by_opening_it, id="open to other users"),
    pytest.param(_block_by_giving_it_away, id="owned by another user", marks=pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root to give a directory away")),
])
async def test_an_unusable_wake_directory_leaves_the_store_polling(
    tmp_path: Path, peers: list[Peer], block: Any
) -> None:
    db = tmp_path / "conveyor.db"
    directory = wake_directory(db)
    block(directory)
    try:
        store = await SqliteStore.open(db)
        try:
            assert store.wake_socket is None
            peer = await Peer.start(db, poll_sec=0.05)  # the default poll, as in production
            peers.append(peer)
            assert peer.socket is None
            [warning] = [line for line in peer.logs if line["event"] == "sqlite_wake_unavailable"]
            assert warning["level"] == "warning" and str(directory) in warning["reason"]
            seq = await submit(store)
            assert await peer.seen(seq) == seq  # found by polling
            if directory.is_dir():
                assert list(directory.iterdir()) == []
        finally:
            await store.close()
    finally:
        if directory.is_dir():
            directory.rmdir()
        else:
            directory.unlink()


async def test_a_path_too_long_for_a_socket_uses_a_short_directory(
    tmp_path: Path, peers: list[Peer]
) -> None:
    db = tmp_path / ("d" * 100) / "conveyor.db"
    store = await SqliteStore.open(db)
    try:
        assert store.wake_socket is not None
        assert store.wake_socket.parent == wake_directory(db)
        assert str(store.wake_socket).startswith(f"/tmp/conveyor-wake-{os.geteuid()}/")
        assert len(os.fsencode(store.wake_socket)) <= 103
        assert not await asyncio.to_thread(Path(f"{db}.wake").exists)
        peer = await Peer.start(db)
        peers.append(peer)
        seq = await submit(store)
        assert await peer.seen(seq) == seq
    finally:
        await store.close()
        for peer in peers:
            await peer.kill()  # its socket file stays behind: cleared below
        directory = wake_directory(db)
        for leftover in directory.glob("*.sock"):
            leftover.unlink()
        directory.rmdir()


async def test_a_store_binds_a_private_socket_and_removes_it_on_close(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "conveyor.db")
    socket_path = store.wake_socket
    assert socket_path is not None and stat.S_ISSOCK(socket_path.stat().st_mode)
    directory = socket_path.parent.stat()
    assert stat.S_IMODE(directory.st_mode) == 0o700 and directory.st_uid == os.geteuid()
    await store.close()
    assert not socket_path.exists()


async def test_wake_ups_can_be_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SWITCH, "0")
    db = tmp_path / "conveyor.db"
    store = await SqliteStore.open(db)
    try:
        assert store.wake_socket is None
        assert not wake_directory(db).exists()
    finally:
        await store.close()
