"""A raw asyncio HTTP/1.1 server on loopback that misbehaves at the byte level, and TLS material.

httpx's MockTransport hands the client a well-formed `Response`; the failures a real proxy or a
broken backend produce (resets, lies in Content-Length, garbage status lines, bytes trickling
in, TLS that is not TLS) only exist on a socket. Each request is routed by the first segment of
its path (`/<case>/v1/chat/completions`) to a `Script` that writes whatever bytes it likes and
then closes the connection: one request per connection, so a script cannot poison the next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What the client sent: method, path, lower-cased headers and the body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Script = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect"}


def head(status: int, headers: Iterable[tuple[str, str]] = (), *, reason: str = "") -> bytes:
    """A status line and header block (ending in the blank line), written exactly as given."""
    lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: Iterable[tuple[str, str]] = (),
) -> Script:
    """A well-formed response (Content-Length, Connection: close) whose body is anything."""
    fields = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *headers,
    ]

    async def script(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head(status, fields) + body)
        await writer.drain()

    return script


def raw(data: bytes, *, then: str = "close") -> Script:
    """Write `data` verbatim, then `close` (FIN), `reset` (RST) or `hang` (keep silent)."""

    async def script(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if data:
            writer.write(data)
            await writer.drain()
        if then == "reset":
            reset(writer)
        elif then == "hang":
            await asyncio.Event().wait()  # until the client gives up and the server closes

    return script


def chunked(
    status: int, chunks: Iterable[bytes], *, content_type: str = "application/json"
) -> Script:
    """A chunked body (no Content-Length), so the size cap cannot be judged from the header."""
    fields = [("Content-Type", content_type), ("Transfer-Encoding", "chunked")]

    async def script(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head(status, fields))
        for chunk in chunks:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return script


def drip(prefix: bytes, byte: bytes, every_s: float, count: int) -> Script:
    """Write `prefix`, then `byte` every `every_s` seconds `count` times: a slow-loris backend.

    Each byte arrives well within httpx's per-read timeout; only a total deadline stops it.
    """

    async def script(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(prefix)
        await writer.drain()
        for _ in range(count):
            await asyncio.sleep(every_s)
            writer.write(byte)
            await writer.drain()

    return script


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN: what a crashed proxy sends."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class HostileServer:
    """The server: `routes` maps a case name (first path segment) to its script."""

    routes: dict[str, Script]
    tls: ssl.SSLContext | None = None
    greeting: bytes | None = None  # if set: write it on connect and close, reading nothing
    requests: list[RawRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, case: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/{case}/"

    def hits(self, case: str) -> int:
        return sum(1 for r in self.requests if r.path.startswith(f"/{case}/"))

    async def __aenter__(self) -> HostileServer:
        extra = {"ssl_handshake_timeout": 5.0} if self.tls is not None else {}
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=self.tls, **extra
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            if self.greeting is not None:
                writer.write(self.greeting)
                await writer.drain()
                return
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            case = request.path.lstrip("/").split("/", 1)[0]
            script = self.routes.get(case, respond(404, b'{"error": "no such case"}'))
            await script(request, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client gave up first: that is the point of several scripts
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            if not writer.transport.is_closing():
                writer.close()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
        return None
    first, *lines = block.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawRequest(method, path, headers, body)


# -- TLS material ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A test CA and server certificates signed by it (or not), as PEM files in a directory."""

    ca: Path  # the CA certificate a trusting client loads
    good: tuple[Path, Path]  # (cert, key) for 127.0.0.1 and localhost, signed by the CA
    wrong_host: tuple[Path, Path]  # signed by the CA, for other.invalid only
    expired: tuple[Path, Path]  # signed by the CA, valid names, expired yesterday
    self_signed: tuple[Path, Path]  # valid names, signed by itself

    def server_context(self, pair: tuple[Path, Path]) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*pair)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the test CA."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        return ctx


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate the CA and the four server certificates (P-256 keys, fast to make)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "canary hostile test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    valid_names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]

    def leaf(
        name: str,
        sans: list[x509.GeneralName],
        *,
        expired: bool = False,
        self_signed: bool = False,
    ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start, end = (
            (now - dt.timedelta(days=3), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(days=1), now + dt.timedelta(days=1))
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        cert = builder.sign(key if self_signed else ca_key, hashes.SHA256())
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    return TlsFiles(
        ca=ca_path,
        good=leaf("good", valid_names),
        wrong_host=leaf("wrong-host", [x509.DNSName("other.invalid")]),
        expired=leaf("expired", valid_names, expired=True),
        self_signed=leaf("self-signed", valid_names, self_signed=True),
    )
