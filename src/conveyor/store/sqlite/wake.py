"""Cross-process wake-ups for the SQLite store: one Unix datagram per commit, per peer.

SQLite has no LISTEN/NOTIFY, so without help a process learns of another process's commit
only when its `wait_for_change` re-reads the `job_events` sequence (every 50 ms): an idle
worker picks up a new job ~25 ms after its commit on average. Here every store that opens
the file binds a datagram socket in one directory that all of them share, and after each
commit that added events the writer sends the newest `seq` (8 bytes) to every other socket
in it. The receiver reads its socket on the event loop (`add_reader`, no thread) and hands
the seq to the store, which wakes its waiters exactly as a write of its own does.

Decisions, and why:

- **Where.** `<database file>.wake/`, next to the file: the processes that can share the
  file's WAL index (`-shm`, shared memory on one machine, containers on a shared volume
  included) can share this directory too, and it goes where the database goes. When that
  path is too long for `sun_path` (108 bytes on Linux, 104 on macOS; we allow 103),
  `/tmp/conveyor-wake-<uid>/<hash of the resolved database path>/` instead. The choice
  depends only on the resolved path, so every process on the file makes the same one; `/tmp`
  and not `$XDG_RUNTIME_DIR` or `$TMPDIR`, which differ between a shell, a service and cron.
  An empty directory stays behind, like the `-wal` and `-shm` files.
- **Who.** Directories are created 0700 and used only when they are real directories owned
  by this user that no other user can enter; so no other user can wake us or read our
  commit rhythm. Anything else (another user's directory, a file in the way, a directory
  we may not create, no usable path, no AF_UNIX, Windows) leaves the store polling, after
  one warning.
- **The seq, not just a poke.** A woken waiter needs no read to learn what changed (a read
  is a thread hop and a transaction, most of the cost of a wake-up), and a datagram that
  says nothing new (a duplicate, a write without events) wakes nobody.
- **Sending.** Non-blocking `sendto` from the store's own socket. The listing is cached,
  re-read when the directory's mtime changes and at least every second (mtimes can be as
  coarse as a clock tick, so a peer that bound just after a listing may otherwise be missed;
  until then it is polled, as before). ECONNREFUSED means the peer's process died without
  closing: its socket file is removed. EAGAIN/ENOBUFS mean its queue is full: it has wake-ups
  pending; the receiver, finding a full queue, re-reads the sequence in case ours was the one
  dropped.
- **Coalescing.** At most one round of datagrams per millisecond per store: a commit within
  a millisecond of the last round is covered by one round (with the newest seq) at the end
  of that millisecond, so the first wake-up of an idle peer is never delayed and the last
  commit of a burst reaches every peer within about a millisecond. The kernel bounds the
  rest: a receiver's queue holds a few datagrams (`net.unix.max_dgram_qlen`), and it drains
  them all in one wake-up.
- **Who hears what.** A store binds as a *work* follower (`<pid>-<hex>.work.sock`) and
  hears only of commits that may have made jobs leasable (the datagram's flag: a job left
  pending, a capped tenant's job ended, a queue resumed, tenant settings changed,
  reservations freed); the first `wait_for_change` renames its socket to `<pid>-<hex>.sock`,
  and from then on it hears of every commit with events. So a worker, which only waits for
  work, is not woken by every other worker's lease and ack (docs/scaling.md, "Fewer
  wake-ups"), and the API, which follows the event log, still hears of everything. A
  work-only store reads the sequence for commits it was not told of only in its first
  `LISTED_WITHIN_SEC` under a name (until every peer has listed it); after that such a
  commit was not work, and reading for it would wake the worker for every other worker's
  ack again.
- **Only a hint.** `wait_for_change` still re-reads the sequence every 50 ms, so a lost
  datagram, or a peer not listed yet, costs latency, never a job.
- **Switch.** `CONVEYOR_SQLITE_WAKE=0` in the environment turns wake-ups off (back to the
  poll alone), to measure the difference or to rule them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import secrets
import socket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from conveyor.logging import get_logger

log = get_logger("conveyor.store.sqlite")

ENV_SWITCH = "CONVEYOR_SQLITE_WAKE"
"""Set to 0 to turn cross-process wake-ups off (the store then polls alone)."""

_SUN_PATH_MAX = 103
"""Longest socket path we bind: macOS's `sun_path` is 104 bytes with its NUL (Linux 108)."""
_NAME_LEN_MAX = len("4194304-0123abcd.work.sock")
"""A socket's name: `<pid>-<8 hex>.sock`, or `.work.sock` for a follower of work only;
pid_max on Linux is at most 2**22. The random part keeps two processes with one pid
(containers on one volume) apart."""
_SUFFIX = ".sock"
_WORK_SUFFIX = ".work.sock"
_COALESCE_SEC = 0.001
"""At most one round of datagrams this often (see the module docstring)."""
_RELIST_SEC = 1.0
"""The directory is listed again at least this often, even when its mtime has not moved."""
LISTED_WITHIN_SEC = 2 * _RELIST_SEC
"""After this long under one name, every live peer has listed the socket: a commit it was
not told of was not meant for it (or its loss was reported: `OnWake(None, …)`)."""
_DRAIN_MAX = 64
"""Datagrams read per wake-up at most, so a flood cannot hold the event loop."""
_SEQ = struct.Struct("!Q?")
"""A datagram: the newest committed `job_events.seq` the sender knows of, and whether a
commit it covers may have made jobs leasable."""


def _queue_limit() -> int:
    """Datagrams a receiver's queue holds before senders get EAGAIN (Linux: this sysctl,
    plus one); elsewhere a guess, erring low (a needless read, never a missed change)."""
    try:
        return int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text()) + 1
    except (OSError, ValueError):
        return 8


_QUEUE_LIMIT = min(_queue_limit(), _DRAIN_MAX)
"""Reading this many in one wake-up means the queue may have been full (one drain reads at
most `_DRAIN_MAX`, so a longer queue counts as full too)."""


class _Unusable(Exception):
    """The wake directory cannot be used safely; the message says why."""


def enabled_by_environment() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip() not in {"0", "false", "no", "off"}


def wake_directory(database: Path) -> Path:
    """The directory every process on `database` shares: next to it if short enough, else a
    short one under /tmp named by a hash of the resolved path (see the module docstring)."""
    resolved = os.path.realpath(database)
    beside = f"{resolved}.wake"
    if len(os.fsencode(beside)) + 1 + _NAME_LEN_MAX <= _SUN_PATH_MAX:
        return Path(beside)
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]
    return _short_root() / digest


def _short_root() -> Path:
    """This user's directory for wake directories whose usual path would be too long."""
    return Path("/tmp") / f"conveyor-wake-{os.geteuid()}"


def _own_directory(path: Path) -> None:
    """Create `path` (mode 0700) unless it exists; then insist that it is a directory owned by
    this user that no other user can enter."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise _Unusable(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise _Unusable(f"{path} belongs to uid {info.st_uid}, not to this process's")
    if info.st_mode & 0o077:
        raise _Unusable(f"{path} is open to other users (mode {stat.filemode(info.st_mode)})")


OnWake = Callable[[int | None, bool], None]
"""Told the newest seq a peer announced (None when some may have been lost), and whether one
of the announced commits may have made jobs leasable."""


class WakeChannel:
    """This store's socket in the wake directory: it tells the peers of a commit
    (`notify_peers`) and calls `on_wake` when a peer has committed. Open with `open`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, directory: Path, name: str,
        on_wake: OnWake,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._directory = directory
        self._name = name
        self._on_wake = on_wake
        self.path = directory / name
        """The socket this store receives on."""
        self._peers: list[str] = []
        self._listed_mtime: int | None = None
        self._listed_at = float("-inf")
        self._last_round = float("-inf")
        self._seq = 0
        self._work = False
        """Whether a commit since the last round may have made jobs leasable."""
        self._trailing: asyncio.TimerHandle | None = None
        self._closed = False
        self._named_at = loop.time()

    @classmethod
    def open(cls, database: Path, on_wake: OnWake) -> WakeChannel | None:
        """Bind this store's socket and read it on the running loop; None, after one warning,
        where that is not possible (the store then polls as before)."""
        if sys.platform == "win32" or not hasattr(socket, "AF_UNIX"):
            log.info("sqlite_wake_unavailable", database=str(database),
                     reason="no Unix datagram sockets on this platform",
                     message="other processes' commits are noticed by polling every 50 ms")
            return None
        loop = asyncio.get_running_loop()
        directory = wake_directory(database)
        name = f"{os.getpid()}-{secrets.token_hex(4)}{_WORK_SUFFIX}"
        sock: socket.socket | None = None
        try:
            if directory.parent == _short_root():
                _own_directory(directory.parent)
            _own_directory(directory)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(str(directory / name))
            channel = cls(loop, sock, directory, name, on_wake)
            loop.add_reader(sock.fileno(), channel._readable)
        except (OSError, _Unusable, NotImplementedError) as exc:
            if sock is not None:
                sock.close()
                with contextlib.suppress(OSError):
                    os.unlink(directory / name)
            log.warning("sqlite_wake_unavailable", database=str(database), reason=str(exc),
                        message="other processes' commits are noticed by polling every 50 ms")
            return None
        return channel

    def close(self) -> None:
        """Stop receiving and remove our socket file (peers stop sending to it)."""
        if self._closed:
            return
        self._closed = True
        if self._trailing is not None:
            self._trailing.cancel()
        if not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self._sock.close()

    def follow_events(self) -> None:
        """Hear of every commit with events from now on, not only of work (see the module
        docstring): the socket is renamed, and peers send to its new name from their next
        listing (the directory's mtime moves)."""
        if self._closed or not self._name.endswith(_WORK_SUFFIX):
            return
        name = self._name.removesuffix(_WORK_SUFFIX) + _SUFFIX
        try:
            os.rename(self.path, self._directory / name)
        except OSError as exc:
            log.warning("sqlite_wake_rename_failed", error=str(exc),
                        message="other processes' commits without work are noticed by polling")
            return
        self._name, self.path = name, self._directory / name
        self._named_at = self._loop.time()

    @property
    def listed_by_peers(self) -> bool:
        """Whether every live peer has listed this socket under its current name by now."""
        return self._loop.time() - self._named_at >= LISTED_WITHIN_SEC

    # -- sending ---------------------------------------------------------------------------
    def notify_peers(self, seq: int, work: bool = False) -> None:
        """A write has committed events up to `seq` (`work`: it may have made jobs
        leasable): tell every peer that wants to hear of it now, or at the end of the current
        millisecond when a round went out less than a millisecond ago."""
        self._seq = max(self._seq, seq)
        self._work = self._work or work
        if self._closed or self._trailing is not None:
            return  # the round already scheduled is later than this commit: it covers it
        wait = self._last_round + _COALESCE_SEC - self._loop.time()
        if wait <= 0:
            self._round()
        else:
            self._trailing = self._loop.call_later(wait, self._trailing_round)

    def _trailing_round(self) -> None:
        self._trailing = None
        if not self._closed:
            self._round()

    def _round(self) -> None:
        self._last_round = self._loop.time()
        work, self._work = self._work, False
        payload = _SEQ.pack(self._seq, work)
        gone: list[str] = []
        for peer in self._current_peers():
            if not work and peer.endswith(_WORK_SUFFIX):
                continue  # it follows work only
            try:
                self._sock.sendto(payload, peer)
            except (BlockingIOError, InterruptedError):
                pass  # its queue is full: it has a wake-up pending already
            except ConnectionRefusedError:
                # Nobody reads it: its process died without closing the store.
                gone.append(peer)
                with contextlib.suppress(OSError):
                    os.unlink(peer)
            except FileNotFoundError:
                gone.append(peer)  # closed since we listed the directory
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    continue  # macOS's word for a full queue
                log.debug("sqlite_wake_failed", peer=peer, error=str(exc))
                gone.append(peer)  # until the next listing
        if gone:
            self._peers = [peer for peer in self._peers if peer not in gone]

    def _current_peers(self) -> list[str]:
        """The other sockets in the directory, listed again when it has changed."""
        now = self._loop.time()
        try:
            mtime = os.stat(self._directory).st_mtime_ns  # before listing: no change is missed
        except OSError:
            return []
        if mtime != self._listed_mtime or now - self._listed_at >= _RELIST_SEC:
            try:
                with os.scandir(self._directory) as entries:
                    self._peers = [
                        entry.path for entry in entries
                        if entry.name.endswith(_SUFFIX) and entry.name != self._name
                    ]
            except OSError:
                self._peers = []
            self._listed_mtime, self._listed_at = mtime, now
        return self._peers

    # -- receiving -------------------------------------------------------------------------
    def _readable(self) -> None:
        """Read every datagram waiting, then hand on the newest seq once; a full queue may
        have turned a sender away, so then the store is told to read for itself."""
        newest = 0
        work = False
        count = 0
        for _ in range(_DRAIN_MAX):
            try:
                data = self._sock.recv(16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            count += 1
            if len(data) == _SEQ.size:
                seq, flagged = _SEQ.unpack(data)
                newest, work = max(newest, seq), work or flagged
        if count >= _QUEUE_LIMIT:
            self._on_wake(None, True)
        elif newest or work:
            self._on_wake(newest, work)  # 0: no seq is news, but jobs may be leasable


__all__ = ["ENV_SWITCH", "OnWake", "WakeChannel", "enabled_by_environment", "wake_directory"]
