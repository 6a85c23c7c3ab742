"""An HTTPS proxy that stands in for one Google host: CONNECT, terminate TLS, forward to the fleet.

google-auth ignores `token_uri` in `authorized_user` files (it always posts to
https://oauth2.googleapis.com/token), so that path can only reach the simulator the way a
corporate proxy would see it: `requests` honours `HTTPS_PROXY` and `REQUESTS_CA_BUNDLE`, the
proxy presents a certificate for the host from a test CA (trustme) and pipes the decrypted
HTTP to the fleet, which serves Google's `/token` path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trustme


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
    finally:
        sink.close()


@asynccontextmanager
async def intercepting_proxy(host: str, upstream_port: int, ca: trustme.CA) -> AsyncIterator[int]:
    """Serve the proxy on loopback for the block; yields its port. Only `host:443` is tunnelled."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(context)
    tasks: set[asyncio.Task[None]] = set()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, target, _version = (await reader.readline()).decode().split()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if (method, target) != ("CONNECT", f"{host}:443"):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.start_tls(context)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await tunnel(reader, writer)
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
