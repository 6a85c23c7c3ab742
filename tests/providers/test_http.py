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
    api_path,
    build_client,
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
    target_kwargs: dict[str, Any],
    handler: Any,
    **kwargs: Any,
) -> tuple[httpx.Response, bytes, float]:
    target = make_target(**target_kwargs)
    async with build_client(target, transport=httpx.MockTransport(handler)) as client:
        return await post_json(client, target, "v1/x", {"q": 1}, {AFFINITY_HEADER: "k"}, **kwargs)


def test_build_client_settings() -> None:
    """The client carries the target's timeouts, pool size, base URL and headers, and never follows redirects."""
    target = make_target(timeout_s=42, concurrency=3, headers={"X-Team": "canary"})
    client = build_client(target)
    assert client.timeout == httpx.Timeout(connect=5, read=42, write=10, pool=5)
    assert client.follow_redirects is False
    assert client.base_url == httpx.URL("http://test/")
    assert client.headers["User-Agent"] == f"canary-monitor/{monitor.__version__}"
    assert client.headers["X-Team"] == "canary"
    pool = client._transport._pool  # type: ignore[attr-defined]  # httpx has no public getter for limits
    assert (pool._max_connections, pool._max_keepalive_connections) == (3, 3)


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
async def test_base_url_joins_api_path(base_url: str, path: str, url: str, endpoint: Endpoint) -> None:
    """base_url excludes `/v1`, tolerates one, and keeps any proxy prefix, with or without a trailing slash."""
    target = make_target(base_url=base_url)
    async with build_client(target, transport=endpoint.transport) as client:
        await post_json(client, target, api_path(target, path), {}, {})
    assert str(endpoint.request.url) == url


async def test_probe_headers_are_sent(endpoint: Endpoint) -> None:
    """Every probe carries its affinity key, Cache-Control: no-store and the canary user agent."""
    request = ProbeRequest(messages=(Message("user", "hi"),), max_tokens=1, temperature=0, affinity_key="abc")
    target = make_target()
    async with build_client(target, transport=endpoint.transport) as client:
        await post_json(client, target, "v1/x", {"q": 1}, probe_headers(request, {"X-Extra": "1"}))
    sent = endpoint.request.headers
    assert (sent["x-canary-affinity"], sent["cache-control"], sent["x-extra"]) == ("abc", "no-store", "1")
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
    """Only the configured response headers are kept, matched case-insensitively, keyed in lower case."""
    response = httpx.Response(200, headers={"X-Request-ID": "r1", "cf-ray": "c2", "Set-Cookie": "s"})
    assert kept_headers(response, keep) == expected


RATE_429 = (
    "HTTP 429: tokens: Rate limit reached for gpt-4o in organization org-AbCdEf123456 on tokens per"
    " min (TPM): Limit 30000, Used 29450, Requested 1200. Please try again in 1.3s. Visit"
    " https://platform.openai.com/account/rate-limits to learn m…"
)


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "message", "retry_after_s"),
    [
        (429, fixture_bytes("openai_error_429"), {"Retry-After": "2"}, ProviderRateLimited, RATE_429, 2.0),
        (429, b"", {}, ProviderRateLimited, "HTTP 429: (empty body)", None),
        (500, fixture_bytes("openai_error_500"), {}, ProviderHTTPError,
         "HTTP 500: server_error: The server had an error while processing your request. Sorry about that!", None),
        (529, fixture_bytes("anthropic_error_529_overloaded"), {}, ProviderHTTPError,
         "HTTP 529: overloaded_error: Overloaded", None),
        (301, b"", {"Location": "http://elsewhere/"}, ProviderHTTPError, "HTTP 301: (empty body)", None),
        (502, b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>", {}, ProviderHTTPError,
         "HTTP 502: <html><body> <h1>502 Bad Gateway</h1> </body></html>", None),
    ],
)
async def test_status_mapping(
    status: int, body: bytes, headers: dict[str, str], kind: type[ProviderError], message: str,
    retry_after_s: float | None,
) -> None:
    """A non-2xx reply raises the matching error with status, summarised vendor message and Retry-After."""
    endpoint = Endpoint(status=status, body=body, headers=headers)
    with pytest.raises(ProviderError) as caught:
        await post({}, endpoint)
    assert type(caught.value) is kind
    assert (str(caught.value), caught.value.status_code) == (message, status)
    assert caught.value.body == body.decode()
    if isinstance(caught.value, ProviderRateLimited):
        assert caught.value.retry_after_s == retry_after_s


async def test_extra_rate_limit_statuses() -> None:
    """A provider can declare more throttling statuses (Anthropic's 529 overloaded)."""
    endpoint = Endpoint(status=529, body=fixture_bytes("anthropic_error_529_overloaded"))
    with pytest.raises(ProviderRateLimited, match=r"^HTTP 529: overloaded_error: Overloaded$"):
        await post({}, endpoint, rate_limit_statuses=frozenset({429, 529}))


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ProviderHTTPError,
         "transport error: ConnectError: [Errno 111] Connection refused"),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), ProviderHTTPError,
         "transport error: ReadError: [Errno 104] Connection reset by peer"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ProviderHTTPError,
         "transport error: RemoteProtocolError: Server disconnected without sending a response."),
        (httpx.ConnectError(""), ProviderHTTPError, "transport error: ConnectError"),
        (httpx.ConnectTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
        (httpx.ReadTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
        (httpx.PoolTimeout("timed out"), ProviderTimeout, "no complete reply within 60 s"),
    ],
)
async def test_transport_errors(error: httpx.HTTPError, kind: type[ProviderError], message: str) -> None:
    """Connection failures are HTTP errors without a status; httpx timeouts are timeouts."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(ProviderError) as caught:
        await post({}, handler)
    assert type(caught.value) is kind
    assert (str(caught.value), caught.value.status_code) == (message, None)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, stream=Drip(b'{"choices": [')),
        httpx.Response(200, stream=Drip()),
        httpx.Response(500, stream=Drip(b"<html>")),
    ],
    ids=["stalls-mid-body", "stalls-before-body", "error-body-stalls"],
)
async def test_slow_body_trips_the_total_deadline(response: httpx.Response) -> None:
    """A body that drips slower than timeout_s raises ProviderTimeout, though every chunk beats the read timeout."""
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
        (httpx.Response(200, content=b"x" * 1024), "ok"),
        (httpx.Response(200, stream=Drip(b"x" * 1000, b"x" * 24, stall=False)), "ok"),
        (httpx.Response(200, content=b"x" * 1025), "protocol"),
        (httpx.Response(200, stream=Drip(b"x" * 1000, b"x" * 25)), "protocol"),
        (httpx.Response(500, stream=Drip(b"x" * 1000, b"x" * 5000)), "http"),
    ],
    ids=["at-cap", "chunked-at-cap", "declared-over", "chunked-over", "error-over"],
)
async def test_response_size_cap(response: httpx.Response, outcome: str) -> None:
    """Bodies up to max_response_bytes pass; a larger 2xx is a protocol error, a larger error body is cut."""
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
    response = httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(ProviderProtocolError, match=r"^response body could not be decoded"):
        await post({}, lambda r: response)


@pytest.mark.parametrize(
    ("status", "body", "raises"),
    [
        (401, ('{"error": {"message": "Incorrect API key provided: %s.", "type": "invalid_request_error"}}'
               % API_KEY).encode(), None),
        (502, f"upstream rejected Authorization: Bearer {API_KEY}".encode(), None),
        (200, b"", httpx.ConnectError(f"proxy refused key {API_KEY}")),
    ],
)
async def test_api_key_never_in_errors(status: int, body: bytes, raises: Exception | None) -> None:
    """An API key echoed by a vendor, proxy or exception is redacted from the message and body."""

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
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP-date; past dates clamp to 0 and junk gives None."""
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (fixture_bytes("openai_error_400"), "invalid_request_error: Invalid 'top_logprobs': integer above"
         " maximum value. Expected a value <= 20, but got 25 instead."),
        (fixture_bytes("anthropic_error_529_overloaded"), "overloaded_error: Overloaded"),
        (b'{"error": {"code": 500, "message": "slot unavailable", "type": "server_error"}}',
         "server_error: slot unavailable"),
        (b'{"object": "error", "message": "max_tokens too large", "type": "BadRequestError", "code": 400}',
         "BadRequestError: max_tokens too large"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b'{"error": "model not loaded"}', "model not loaded"),
        (b"", "(empty body)"),
        (b'{"error": {"message": "' + b"m" * 300 + b'"}}', "m" * 199 + "…"),
    ],
)
def test_summarise_error(body: bytes, summary: str) -> None:
    """Vendor error bodies become `type: message` of at most 200 characters."""
    assert summarise_error(body) == summary
    assert len(summary) <= 200
