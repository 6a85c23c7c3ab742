"""TLS failures through the real path: real certificates, a real handshake, real garbage.

The client is `build_client`'s, with a transport that trusts only a test CA (the default trust
store cannot hold a certificate made a second ago), except for the self-signed case, which also
runs with the daemon's own shared context. Every failure is an `http_error` that names the TLS
reason, and the same server with a good certificate passes: each test can fail.
"""

from __future__ import annotations

import io
import ssl

import httpx
import pytest

from monitor.types import Outcome
from tests.hostile.cases import Case, body, ok
from tests.hostile.checks import assert_clean_log, run_case
from tests.hostile.conftest import MakeRunner, hostile_target
from tests.hostile.server import HostileServer, TlsFiles

HTTP = Outcome.HTTP_ERROR
GOOD = ok(body("openai_chat", "Paris"))


def case(name: str, outcome: Outcome, evidence: str = "") -> Case:
    return Case(name, "tls", lambda api: GOOD, outcome, evidence, apis=("openai_chat",))


# (case, certificate attribute of TlsFiles or None for a plain-TCP server, greeting bytes)
TLS_TABLE = [
    (case("tls-valid", Outcome.PASSED), "good", None),
    (case("tls-self-signed", HTTP, "self-signed certificate"), "self_signed", None),
    (case("tls-wrong-host", HTTP, "IP address mismatch"), "wrong_host", None),
    (case("tls-expired", HTTP, "certificate has expired"), "expired", None),
    (
        case("tls-plaintext-http", HTTP, "ConnectError: [SSL"),
        None,
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        case("tls-garbage", HTTP, "ConnectError: [SSL"),
        None,
        b"\x16\x03\x01\x00\x05\x02\xff\xff\xff\xff" + b"\x1b[31m garbage \x00" * 8,
    ),
    (case("tls-close-in-handshake", HTTP, "ConnectError"), None, b"-"),
]


@pytest.mark.parametrize(
    ("tls_case", "cert", "greeting"), TLS_TABLE, ids=lambda v: getattr(v, "name", None)
)
async def test_tls_failures(  # noqa: PLR0917 (three fixtures and a three-column table)
    make_runner: MakeRunner,
    log_output: io.StringIO,
    tls_files: TlsFiles,
    tls_case: Case,
    cert: str | None,
    greeting: bytes | None,
) -> None:
    """Bad certificates and non-TLS answers are http_errors naming the reason; logs stay clean."""
    tls: ssl.SSLContext | None = None
    if cert is not None:
        tls = tls_files.server_context(getattr(tls_files, cert))
    routes = {tls_case.name: tls_case.script("openai_chat")}
    async with HostileServer(routes, tls=tls, greeting=greeting) as server:
        base_url = server.url(tls_case.name).replace("http://", "https://")
        transport = httpx.AsyncHTTPTransport(verify=tls_files.client_context())
        await run_case(make_runner(transport), tls_case, "openai_chat", base_url)
    assert_clean_log(log_output.getvalue())


async def test_self_signed_fails_with_the_daemon_trust_store(
    make_runner: MakeRunner, tls_files: TlsFiles
) -> None:
    """With the daemon's shared context (the system CAs), even the test CA's certificate fails."""
    tls = tls_files.server_context(tls_files.good)
    name = "tls-default-trust"
    async with HostileServer({name: GOOD}, tls=tls) as server:
        tls_case = case(name, HTTP, "CERTIFICATE_VERIFY_FAILED")
        await run_case(make_runner(), tls_case, "openai_chat", server.url(name))
        assert hostile_target("openai_chat", server.url(name)).base_url.startswith("https://")
