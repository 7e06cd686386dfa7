"""The SQLite store's side lock (`store/sqlite/writelock.py`): every write transaction holds an
exclusive `flock` on `<database>-lock`, so the writers of all processes on the file queue for
it in the kernel rather than in SQLite's busy-handler sleeps. Shown here: a write waits while
another process holds the lock and commits once it is dropped; two stores of one process
exclude each other; a write abandoned by its deadline while it waited writes nothing; a side
file that cannot be opened leaves the store writing on SQLite's busy timeout alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.errors import StoreUnavailable
from conveyor.models import NewJob
from conveyor.store import connect_store
from conveyor.store.sqlite.store import SqliteStore
from conveyor.store.sqlite.writelock import WriteLock, lock_path

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""

HELD_FOR = 0.3
"""How long a test keeps the lock while it checks that the write has not gone through."""


async def open_store(tmp_path: Path) -> SqliteStore:
    store = await connect_store(f"sqlite:///{tmp_path}/conveyor.db")
    assert isinstance(store, SqliteStore)
    return store


@contextlib.contextmanager
def holding(store: SqliteStore) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store's side lock until it reads a line or is killed."""
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path(store.path))],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            yield holder
        finally:
            holder.kill()


async def count_jobs(store: SqliteStore) -> int:
    return (await store.list_jobs()).total


async def settle(task: asyncio.Task[object], seconds: float = 10.0) -> None:
    await asyncio.wait_for(task, seconds)


async def test_a_write_waits_for_another_process_holding_the_lock(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        assert lock_path(store.path).exists()
        with holding(store) as holder:
            submit = asyncio.create_task(store.submit(NewJob("t", {"n": 1})))
            await asyncio.sleep(HELD_FOR)
            assert not submit.done()  # without the side lock it would have committed at once
            assert await count_jobs(store) == 0  # reads are not held up, and see nothing yet
            assert holder.stdin is not None
            holder.stdin.write("\n")  # the holder drops the lock and exits
            holder.stdin.flush()
            await settle(submit)
        assert submit.result().created
        assert await count_jobs(store) == 1
    finally:
        await store.close()


async def test_a_holder_killed_with_sigkill_frees_the_lock(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        with holding(store) as holder:
            submit = asyncio.create_task(store.submit(NewJob("t", {})))
            await asyncio.sleep(HELD_FOR)
            assert not submit.done()
            holder.kill()  # SIGKILL: the kernel drops the lock with the process's descriptors
            holder.wait()
            await settle(submit)
        assert await count_jobs(store) == 1
    finally:
        await store.close()


async def test_two_stores_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    other = WriteLock.open(store.path)  # another open file, as a second store would hold
    try:
        assert other.enabled
        with other.held():
            submit = asyncio.create_task(store.submit(NewJob("t", {})))
            await asyncio.sleep(HELD_FOR)
            assert not submit.done()
        await settle(submit)
        assert await count_jobs(store) == 1
    finally:
        other.close()
        await store.close()


async def test_a_write_abandoned_while_it_waited_for_the_lock_writes_nothing(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path)
    store.call_timeout = 0.3
    other = WriteLock.open(store.path)
    try:
        with other.held():
            began = time.monotonic()
            with pytest.raises(StoreUnavailable, match="no answer within"):
                await store.submit(NewJob("t", {"n": 1}))
            assert time.monotonic() - began < 2.0
        store.call_timeout = 10.0
        await store.submit(NewJob("t", {"n": 2}))  # queued behind the abandoned one
        payloads = [dict(job.payload) for job in (await store.list_jobs()).jobs]
        assert payloads == [{"n": 2}]
    finally:
        other.close()
        await store.close()


async def test_without_a_usable_side_file_the_store_still_writes(tmp_path: Path) -> None:
    lock_path(tmp_path / "conveyor.db").mkdir()  # a directory in the way of the side file
    store = await open_store(tmp_path)
    try:
        assert not store._write_lock.enabled
        await store.submit(NewJob("t", {}))
        assert await count_jobs(store) == 1
    finally:
        await store.close()


async def test_the_side_file_takes_the_database_files_mode(tmp_path: Path) -> None:
    database = tmp_path / "conveyor.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    lock = WriteLock.open(database)
    try:
        assert lock.enabled
        umask = os.umask(0)
        os.umask(umask)
        assert lock_path(database).stat().st_mode & 0o777 == 0o640 & ~umask
    finally:
        lock.close()
