"""PostgreSQL outages: StoreUnavailable while the server is away, recovery when it is back.

The server is taken away by a TCP proxy the test owns, so nothing else using the real server
is disturbed: stopping the proxy drops every connection and refuses new ones, like a crashed
or restarting server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from conveyor.errors import IdempotencyConflict, StoreError, StoreUnavailable
from conveyor.models import NewJob
from conveyor.store.postgres import open_postgres
from tests.pgsupport import fresh_postgres_database, until

pytestmark = pytest.mark.postgres


class Proxy:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server until stopped."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[Proxy]:
    parts = urlsplit(pg_url)
    started = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await started.start()
    yield started
    with contextlib.suppress(Exception):
        await started.stop()


def via(proxy: Proxy, url: str, query: str = "") -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc_out = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return urlunsplit(parts._replace(netloc=netloc_out, query=query))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_open_against_a_dead_port_raises_store_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/conveyor?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as raised:
        await asyncio.wait_for(open_postgres(url), 15)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


async def test_server_outage_raises_store_unavailable_then_recovers(
    pg_url: str, proxy: Proxy
) -> None:
    store = await open_postgres(via(proxy, pg_url, "pool_timeout=1&connect_timeout=2"))
    try:
        await store.submit(NewJob("text", {"text": "before"}))
        await store.wait_for_change(0, 0)  # its listener starts with its first wait
        await until(lambda: store._listener.connected, message="listener never connected")
        await proxy.stop()
        for call in (store.ping, store.counts, lambda: store.lease("w", ["default"], 1, 30)):
            with pytest.raises(StoreUnavailable) as raised:
                await asyncio.wait_for(call(), 10)
            assert isinstance(raised.value.__cause__, psycopg.OperationalError)
        await until(lambda: not store._listener.connected, message="listener loss unnoticed")

        await proxy.start()  # the server is back, on the same address

        async def answers() -> bool:
            try:
                await store.ping()
            except StoreUnavailable:
                return False
            return True

        await until(answers, timeout=20, message="the pool never reconnected")
        [lease] = await store.lease("w", ["default"], 1, 30)
        assert lease.payload == {"text": "before"}
        await until(lambda: store._listener.connected, timeout=15, message="no re-LISTEN")
    finally:
        await store.close()


async def test_killed_pool_connections_are_replaced(pg_url: str) -> None:
    store = await open_postgres(pg_url)
    try:
        await store.ping()
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        failures = 0
        for _ in range(20):  # at most one failure per pooled connection, then all is well
            try:
                await store.ping()
                break
            except StoreUnavailable:
                failures += 1
        else:
            pytest.fail("the store never recovered")
        assert failures <= store.options.pool_max_size
        await store.submit(NewJob("text", {"text": "after"}))
    finally:
        await store.close()


async def test_statement_timeout_from_the_url_cancels_slow_statements(pg_url: str) -> None:
    store = await open_postgres(pg_url + "?statement_timeout_ms=100")
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.run_sql("SELECT pg_sleep(2)")
        assert isinstance(raised.value.__cause__, psycopg.errors.QueryCanceled)
        await store.ping()  # the connection survives a cancelled statement
    finally:
        await store.close()


async def test_unique_violations_map_by_constraint_name(pg_url: str) -> None:
    store = await open_postgres(pg_url)
    insert = (
        "INSERT INTO jobs (id, tenant, queue, task, payload, status, max_retries, run_at,"
        " idempotency_key) VALUES (%s, 't', 'default', 'text', '{}', 'pending', 3, now(), %s)"
    )
    try:
        first = (await store.submit(NewJob("text", {}, tenant="t", idempotency_key="k"))).job
        with pytest.raises(IdempotencyConflict) as conflict:
            await store.run_sql(insert, (uuid.uuid4(), "k"))
        assert isinstance(conflict.value.__cause__, psycopg.errors.UniqueViolation)
        with pytest.raises(StoreError) as other:
            await store.run_sql(insert, (first.id, "another"))
        assert not isinstance(other.value, IdempotencyConflict)
        assert isinstance(other.value.__cause__, psycopg.errors.UniqueViolation)
    finally:
        await store.close()
