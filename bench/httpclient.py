"""A minimal HTTP/1.1 keep-alive client for the enqueue and HTTP benchmarks.

On two cores the client shares the CPU with the server it measures. httpx spends several
times more CPU per request than this loop over one socket, and that CPU would be taken from
the API process; so the benchmark speaks just enough HTTP/1.1 itself: one request at a time
per connection, Content-Length or chunked bodies. Only for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib


class HttpConnection:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> HttpConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None, "not connected"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        self._writer.write(head + body)
        return await self._response()

    async def get(self, path: str) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None, "not connected"
        self._writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode("ascii")
        )
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        assert self._reader is not None
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked = False
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self._reader.readexactly(length)
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return status, b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)
