"""Writers of every conveyor process on one SQLite file queue in the kernel, not in sleeps.

SQLite lets one connection write at a time. A connection that finds the file locked calls its
busy handler, which sleeps and tries again: 1 ms, then 2, 5, 10, 15, 20, 25 ms and more
between tries, whenever the lock was freed meanwhile. A transaction here lasts well under a
millisecond, so with two worker processes on one file a lease or an ack that meets the
other's commit waits for the end of a sleep, not for the lock: a few milliseconds each time,
and a slot that waits for its ack or its next lease holds no job meanwhile (10 ms jobs on
two processes reached 86-89 % of the slots' ceiling, against 96-97 % on one).

So before `BEGIN IMMEDIATE` the writer thread takes an exclusive `flock` on a side file,
`<database file>-lock`, and drops it after the commit or the rollback. A process waiting for
it sleeps in the kernel and is woken the moment the holder drops it; by then SQLite's own
lock is free too, and `BEGIN IMMEDIATE` takes it at the first try.

Decisions, and why:

- **Only a queue in front of SQLite's lock, never instead of it.** Programs that are not
  conveyor (the `sqlite3` shell, a backup) do not take the side lock; against them the busy
  timeout works as before. So does everything when the side file cannot be opened (a
  read-only directory, another user's file, Windows has no `flock`): the store then writes
  without it, after one warning.
- **Bounded by SQLite's wait.** The holder either holds SQLite's lock (a transaction) or
  waits for it within the busy timeout, so the wait for the side lock is no longer than the
  wait for SQLite's lock would have been behind the same writers. A holder killed with
  `kill -9` drops it with its file descriptor; a stopped one holds it, as it holds SQLite's.
  A call whose deadline passes while its thread waits here is answered at once and writes
  nothing once the thread gets the lock (`store._run`), as with a locked file.
- **`flock`, not `fcntl` record locks.** `flock` belongs to the open file, so two stores in
  one process (the API and a worker of `conveyor up`) exclude each other too; a record lock
  belongs to the process, and its second store would take it unhindered.
- **Mode of the database file.** The side file is created with the database file's
  permission bits, as SQLite creates `-wal` and `-shm`, so whoever may write the database may
  take the lock. It stays behind, like them: removing it while a process waits on it would
  let two processes hold two different files' locks.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from conveyor.logging import get_logger

try:
    import fcntl
except ImportError:  # Windows: no flock; writers fall back to SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

log = get_logger("conveyor.store")


def lock_path(database: Path) -> Path:
    """The side file every process on `database` locks around its writes."""
    return database.with_name(database.name + "-lock")


class WriteLock:
    """The side lock of one store's writer connection: `with lock.held(): …` around each
    write transaction. Opened with `WriteLock.open(database)`; without a usable side file it
    holds nothing (`enabled` is False) and the busy timeout alone orders the writers."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def open(cls, database: Path) -> WriteLock:
        """After the database file exists (its mode is copied). Never raises: a side file that
        cannot be used is warned about once and the lock does nothing."""
        path = lock_path(database)
        if fcntl is None:
            return cls(None)
        try:
            mode = stat.S_IMODE(os.stat(database).st_mode) & 0o666
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
        except OSError as exc:
            log.warning("sqlite_write_lock_unusable", path=str(path), error=str(exc),
                        effect="writers of other processes queue on SQLite's busy timeout")
            return cls(None)
        return cls(fd)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the side lock (waiting in the kernel for other processes' writers) for the
        body: on the writer thread, around one transaction."""
        fd = self._fd
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the side file (which also drops the lock, should it be held)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
