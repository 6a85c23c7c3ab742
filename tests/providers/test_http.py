"""The shared HTTP layer: client settings, headers, deadline, size cap and error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import monitor
from monitor.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
)
from monitor.providers.http import (
    AFFINITY_HEADER,
    KEEPALIVE_MAX_S,
    api_path,
    build_client,
    keepalive_for,
    kept_headers,
    parse_retry_after,
    post_json,
    probe_headers,
    summarise_error,
)
from monitor.types import Message, ProbeRequest
from tests.providers.fakes import API_KEY, Endpoint, fixture_bytes, make_target


class Drip(httpx.AsyncByteStream):
    """A body that sends its chunks, then stalls for an hour (a slow-drip backend)."""

    def __init__(self, *chunks: bytes, stall: bool = True) -> None:
        self.chunks = chunks
        self.stall = stall

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.sleep(3600)


async def post(
    target_kwargs: dict[str, Any], handler: Any, **kwargs: Any
) -> tuple[httpx.Response, bytes, float]:
    target = make_target(**target_kwargs)
    async with build_client(target, transport=httpx.MockTransport(handler)) as client:
        return await post_json(client, target, "v1/x", {"q": 1}, {AFFINITY_HEADER: "k"}, **kwargs)


async def test_build_client_settings() -> None:
    """The client has the target's timeouts, pool, base URL and headers, and no redirects."""
    target = make_target(timeout_s=42, concurrency=3, headers={"X-Team": "canary"})
    async with build_client(target) as client:
        pass
    assert client.timeout == httpx.Timeout(connect=5, read=42, write=10, pool=5)
    assert client.follow_redirects is False
    assert client.base_url == httpx.URL("http://test/")
    assert client.headers["User-Agent"] == f"canary-monitor/{monitor.__version__}"
    assert client.headers["X-Team"] == "canary"
    pool = client._transport._pool  # type: ignore[attr-defined]  # no public getter for limits
    assert (pool._max_connections, pool._max_keepalive_connections) == (3, 3)
    async with build_client(target, keepalive_s=keepalive_for(60)) as client:
        pass
    assert client._transport._pool._keepalive_expiry == 65  # type: ignore[attr-defined]


def test_keepalive_outlives_the_interval() -> None:
    """Idle connections outlive the pause between runs, up to a cap."""
    assert keepalive_for(1) == 6 and keepalive_for(60) == 65
    assert keepalive_for(3600) == KEEPALIVE_MAX_S


@pytest.mark.parametrize(
    ("base_url", "path", "url"),
    [
        ("http://test/", "v1/chat/completions", "http://test/v1/chat/completions"),
        ("http://test", "v1/chat/completions", "http://test/v1/chat/completions"),
        ("http://test/v1", "v1/chat/completions", "http://test/v1/chat/completions"),
        ("http://test/v1/", "v1/messages", "http://test/v1/messages"),
        ("https://gw.example/llm/", "v1/messages", "https://gw.example/llm/v1/messages"),
    ],
)
async def test_base_url_joins_api_path(base_url: str, path: str, url: str) -> None:
    """base_url excludes `/v1` but tolerates one, and keeps a proxy prefix, slash or not."""
    endpoint = Endpoint()
    target = make_target(base_url=base_url)
    async with build_client(target, transport=endpoint.transport) as client:
        await post_json(client, target, api_path(target, path), {}, {})
    assert str(endpoint.request.url) == url


async def test_probe_headers_are_sent(endpoint: Endpoint) -> None:
    """Every probe carries its affinity key, Cache-Control: no-store and the canary user agent."""
    request = ProbeRequest(
        messages=(Message("user", "hi"),), max_tokens=1, temperature=0, affinity_key="abc"
    )
    target = make_target()
    async with build_client(target, transport=endpoint.transport) as client:
        await post_json(client, target, "v1/x", {"q": 1}, probe_headers(request, {"X-Extra": "1"}))
    sent = endpoint.request.headers
    assert sent["x-canary-affinity"] == "abc"
    assert (sent["cache-control"], sent["x-extra"]) == ("no-store", "1")
    assert sent["user-agent"].startswith("canary-monitor/")
    assert endpoint.sent_json == {"q": 1}


def test_empty_affinity_key_gets_a_fresh_one() -> None:
    """A request without an affinity key gets a fresh random one, never a shared constant."""
    request = ProbeRequest(messages=(), max_tokens=1, temperature=0)
    first, second = (probe_headers(request, {})[AFFINITY_HEADER] for _ in range(2))
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (["X-Request-Id"], {"x-request-id": "r1"}),
        (["x-request-id", "CF-RAY"], {"x-request-id": "r1", "cf-ray": "c2"}),
        (["x-missing"], {}),
        ([], {}),
    ],
)
def test_kept_headers(keep: list[str], expected: dict[str, str]) -> None:
    """Only configured response headers are kept, matched case-insensitively, keyed lower-case."""
    headers = {"X-Request-ID": "r1", "cf-ray": "c2", "Set-Cookie": "s"}
    assert kept_headers(httpx.Response(200, headers=headers), keep) == expected


RATE_429 = (
    "HTTP 429: tokens: Rate limit reached for gpt-4o in organization org-AbCdEf123456 on tokens"
    " per min (TPM): Limit 30000, Used 29450, Requested 1200. Please try again in 1.3s. Visit"
    " https://platform.openai.com/ac…"
)
SORRY = "The server had an error while processing your request. Sorry about that!"
HTML_502 = b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>"


@pytest.mark.parametrize(
    ("endpoint", "kind", "message", "retry_after_s"),
    [
        pytest.param(
            Endpoint(429, fixture_bytes("openai_error_429"), {"Retry-After": "2"}),
            ProviderRateLimited,
            RATE_429,
            2.0,
            id="openai-429",
        ),
        pytest.param(
            Endpoint(429, b""), ProviderRateLimited, "HTTP 429: (empty body)", None, id="bare-429"
        ),
        pytest.param(
            Endpoint(500, fixture_bytes("openai_error_500")),
            ProviderHTTPError,
            f"HTTP 500: server_error: {SORRY}",
            None,
            id="openai-500",
        ),
        pytest.param(
            Endpoint(529, fixture_bytes("anthropic_error_529_overloaded")),
            ProviderHTTPError,
            "HTTP 529: overloaded_error: Overloaded",
            None,
            id="529-is-not-throttling-by-default",
        ),
        pytest.param(
            Endpoint(301, b"", {"Location": "http://elsewhere/"}),
            ProviderHTTPError,
            "HTTP 301: (empty body)",
            None,
            id="redirect-not-followed",
        ),
        pytest.param(
            Endpoint(502, HTML_502),
            ProviderHTTPError,
            "HTTP 502: <html><body> <h1>502 Bad Gateway</h1> </body></html>",
            None,
            id="html-502",
        ),
    ],
)
async def test_status_mapping(
    endpoint: Endpoint, kind: type[ProviderError], message: str, retry_after_s: float | None
) -> None:
    """A non-2xx raises the matching error with its status, vendor summary and Retry-After."""
    with pytest.raises(ProviderError) as caught:
        await post({}, endpoint)
    assert type(caught.value) is kind
    assert (str(caught.value), caught.value.status_code) == (message, endpoint.status)
    assert caught.value.body == endpoint.body.decode()
    if isinstance(caught.value, ProviderRateLimited):
        assert caught.value.retry_after_s == retry_after_s


async def test_extra_rate_limit_statuses() -> None:
    """A provider can declare more throttling statuses (Anthropic's 529 overloaded)."""
    endpoint = Endpoint(status=529, body=fixture_bytes("anthropic_error_529_overloaded"))
    with pytest.raises(ProviderRateLimited, match=r"^HTTP 529: overloaded_error: Overloaded$"):
        await post({}, endpoint, rate_limit_statuses=frozenset({429, 529}))


REFUSED = "[Errno 111] Connection refused"
RESET = "[Errno 104] Connection reset by peer"
DISCONNECTED = "Server disconnected without sending a response."


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            httpx.ConnectError(REFUSED),
            ProviderHTTPError,
            f"transport error: ConnectError: {REFUSED}",
        ),
        (httpx.ReadError(RESET), ProviderHTTPError, f"transport error: ReadError: {RESET}"),
        (
            httpx.RemoteProtocolError(DISCONNECTED),
            ProviderHTTPError,
            f"transport error: RemoteProtocolError: {DISCONNECTED}",
        ),
        (httpx.ConnectError(""), ProviderHTTPError, "transport error: ConnectError"),
        (httpx.ConnectTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
        (httpx.ReadTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
        (httpx.PoolTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
    ],
)
async def test_transport_errors(
    error: httpx.HTTPError, kind: type[ProviderError], message: str
) -> None:
    """Connection failures are HTTP errors without a status; httpx timeouts are timeouts."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(ProviderError) as caught:
        await post({}, handler)
    assert type(caught.value) is kind
    assert (str(caught.value), caught.value.status_code) == (message, None)


@pytest.mark.parametrize(
    ("failures", "error", "sent", "ok"),
    [
        (1, DISCONNECTED, 2, True),  # a stale keep-alive connection: sent once more
        (2, DISCONNECTED, 2, False),  # at most once more
        (1, "peer closed connection without sending complete message body", 1, False),
    ],
)
async def test_stale_connection_is_retried_once(
    failures: int, error: str, sent: int, ok: bool
) -> None:
    """Only a failure before any response byte is retried, and only once."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) <= failures:
            raise httpx.RemoteProtocolError(error)
        return httpx.Response(200, json={"ok": True})

    if ok:
        await post({}, handler)
    else:
        with pytest.raises(ProviderHTTPError):
            await post({}, handler)
    assert len(requests) == sent


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, stream=Drip(b'{"choices": [')), id="stalls-mid-body"),
        pytest.param(httpx.Response(200, stream=Drip()), id="stalls-before-body"),
        pytest.param(httpx.Response(500, stream=Drip(b"<html>")), id="error-body-stalls"),
    ],
)
async def test_slow_body_trips_the_total_deadline(response: httpx.Response) -> None:
    """A body dripping past timeout_s raises ProviderTimeout though no single read times out."""
    with pytest.raises(ProviderTimeout, match=r"^no complete reply within 0\.2 s$"):
        await post({"timeout_s": 0.2}, lambda request: response)


async def test_slow_headers_trip_the_deadline() -> None:
    """A backend that never sends headers raises ProviderTimeout."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with pytest.raises(ProviderTimeout):
        await post({"timeout_s": 0.2}, handler)


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        pytest.param(httpx.Response(200, content=b"x" * 1024), "ok", id="at-cap"),
        pytest.param(
            httpx.Response(200, stream=Drip(b"x" * 1000, b"x" * 24, stall=False)),
            "ok",
            id="chunked-at-cap",
        ),
        pytest.param(httpx.Response(200, content=b"x" * 1025), "protocol", id="declared-over"),
        pytest.param(
            httpx.Response(200, stream=Drip(b"x" * 1000, b"x" * 25)), "protocol", id="chunked-over"
        ),
        pytest.param(
            httpx.Response(500, stream=Drip(b"x" * 1000, b"x" * 5000)), "http", id="error-over"
        ),
    ],
)
async def test_response_size_cap(response: httpx.Response, outcome: str) -> None:
    """Up to max_response_bytes passes; a larger 2xx is a protocol error, an error body is cut."""
    if outcome == "ok":
        _, content, latency_s = await post({"max_response_bytes": 1024}, lambda r: response)
        assert (len(content), latency_s >= 0) == (1024, True)
        return
    with pytest.raises(ProviderError) as caught:
        await post({"max_response_bytes": 1024}, lambda r: response)
    if outcome == "protocol":
        assert type(caught.value) is ProviderProtocolError
        assert str(caught.value) == "response body exceeds 1024 bytes"
    else:
        assert type(caught.value) is ProviderHTTPError
        assert caught.value.body == "x" * 1024


async def test_undecodable_body_is_a_protocol_error() -> None:
    """A body whose Content-Encoding lies is a protocol error, not a crash."""
    headers = {"Content-Encoding": "gzip"}
    response = httpx.Response(200, stream=Drip(b"not gzip", stall=False), headers=headers)
    with pytest.raises(ProviderProtocolError, match=r"^response body could not be decoded"):
        await post({}, lambda r: response)


ECHO_401 = f'{{"error": {{"message": "Incorrect API key provided: {API_KEY}.", "type": "x"}}}}'


@pytest.mark.parametrize(
    ("status", "body", "raises"),
    [
        pytest.param(401, ECHO_401.encode(), None, id="vendor-echo"),
        pytest.param(502, f"rejected Authorization: Bearer {API_KEY}".encode(), None, id="proxy"),
        pytest.param(200, b"", httpx.ConnectError(f"refused key {API_KEY}"), id="exception"),
    ],
)
async def test_api_key_never_in_errors(status: int, body: bytes, raises: Exception | None) -> None:
    """An API key echoed by a vendor, proxy or exception is redacted from message and body."""

    def handler(request: httpx.Request) -> httpx.Response:
        if raises is not None:
            raise raises
        return httpx.Response(status, content=body)

    with pytest.raises(ProviderError) as caught:
        await post({}, handler)
    assert API_KEY not in str(caught.value) and API_KEY not in caught.value.body
    assert "[REDACTED]" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 -0000", 30.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP-date; past dates clamp to 0, junk gives None."""
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


TOP_LOGPROBS_400 = (
    "invalid_request_error: Invalid 'top_logprobs': integer above maximum value."
    " Expected a value <= 20, but got 25 instead."
)
LLAMACPP_500 = b'{"error": {"code": 500, "message": "slot unavailable", "type": "server_error"}}'
VLLM_400 = b'{"object": "error", "message": "too long", "type": "BadRequestError", "code": 400}'


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        pytest.param(fixture_bytes("openai_error_400"), TOP_LOGPROBS_400, id="openai"),
        pytest.param(
            fixture_bytes("anthropic_error_529_overloaded"),
            "overloaded_error: Overloaded",
            id="anthropic",
        ),
        pytest.param(LLAMACPP_500, "server_error: slot unavailable", id="llamacpp"),
        pytest.param(VLLM_400, "BadRequestError: too long", id="vllm-legacy"),
        pytest.param(b'{"detail": "Not Found"}', "Not Found", id="fastapi"),
        pytest.param(b'{"error": "model not loaded"}', "model not loaded", id="string-error"),
        pytest.param(b"", "(empty body)", id="empty"),
        pytest.param(b'{"error": {"message": "' + b"m" * 300 + b'"}}', "m" * 199 + "…", id="long"),
    ],
)
def test_summarise_error(body: bytes, summary: str) -> None:
    """Vendor error bodies become `type: message` of at most 200 characters."""
    assert summarise_error(body) == summary
    assert len(summary) <= 200


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one HTTP/1.1 request (headers and a Content-Length body); False at EOF."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return False
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return True


async def test_stale_pooled_connection_is_retried_on_a_real_socket() -> None:
    """A server that closes a kept-alive connection just as the next request arrives (its idle
    timeout) costs nothing: that request is sent again on a new connection. A connection
    opened for the request and closed the same way is not retried."""
    seen: list[int] = []  # connection number of every request the server read
    connections = 0
    ok = b'{"ok": true}'
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(ok),
        ok,
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        try:
            while await _read_request(reader):
                seen.append(number)
                if (number == 1 and seen.count(1) == 2) or number == 3:
                    return  # read the request, then close without answering
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = make_target(base_url=f"http://127.0.0.1:{port}/")
    try:
        async with build_client(target, keepalive_s=30) as client:
            await post_json(client, target, "v1/x", {"q": 1}, {})  # connection 1
            await post_json(client, target, "v1/x", {"q": 2}, {})  # 1 again: closed, resent on 2
            assert seen == [1, 1, 2]
        async with build_client(target) as fresh:
            with pytest.raises(ProviderHTTPError, match="without sending a response"):
                await post_json(fresh, target, "v1/x", {"q": 3}, {})  # connection 3, not resent
        assert seen == [1, 1, 2, 3]
    finally:
        server.close()
        await server.wait_closed()
