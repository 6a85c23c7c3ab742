"""HTTP plumbing shared by the wire-API modules: one client per target, one POST per probe.

`post_json` is the only place a probe touches the network. It enforces a *total* deadline of
`target.timeout_s` (httpx's read timeout is per chunk, so a slow-drip body would otherwise hang
forever), caps the body at `target.max_response_bytes`, and turns every failure into a
`ProviderError`. Vendor error bodies are summarised, and the API key is scrubbed from every
message and body we keep, because both end up in logs and the transcript store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

import monitor
from monitor.config.model import Target
from monitor.errors import (
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
)
from monitor.providers.decoding import ACCEPT_ENCODING, BoundedDecoder
from monitor.providers.redaction import REDACTED, holds_secret, redact
from monitor.types import ProbeRequest, Reply

USER_AGENT = f"canary-monitor/{monitor.__version__}"
AFFINITY_HEADER = "X-Canary-Affinity"
SUMMARY_MAX_CHARS = 200
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: httpx would load the CA bundle per client (about 25 ms
    of CPU and 0.8 MB each, measured in bench/README.md), which at hundreds of targets stalls
    the event loop at start-up and dominates the daemon's memory."""
    return httpx.create_ssl_context()


def keepalive_for(interval_s: float) -> float:
    """How long an idle connection is kept: a little over the interval between runs, so each
    run reuses the last run's connection instead of paying a TCP and TLS handshake (httpx's
    5 s default is shorter than any suite interval), capped where servers close idle
    connections anyway. The stale-connection retry in `post_json` covers one the server
    closed first."""
    return min(interval_s + 5.0, KEEPALIVE_MAX_S)


KEEPALIVE_MAX_S = 120.0


def build_client(
    target: Target,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    keepalive_s: float = 5.0,
) -> httpx.AsyncClient:
    """One client per target: explicit timeouts (LLM replies outlast httpx's 5 s default).

    `transport` lets tests and the simulator inject a fake; `limits` then belong to it.
    Redirects are not followed: a probe tests one endpoint, and a 3xx is itself a finding.
    `keepalive_s` is the idle-connection expiry (see `keepalive_for`).
    """
    return httpx.AsyncClient(
        base_url=target.base_url,
        verify=shared_ssl_context(),
        # Only the codings `decoding.BoundedDecoder` undoes under the size cap (httpx would
        # also offer br and zstd when their packages happen to be installed).
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **target.headers},
        timeout=httpx.Timeout(connect=5, read=target.timeout_s, write=10, pool=5),
        limits=httpx.Limits(
            max_connections=target.concurrency,
            max_keepalive_connections=target.concurrency,
            keepalive_expiry=keepalive_s,
        ),
        follow_redirects=False,
        transport=transport,
    )


def api_path(target: Target, path: str) -> str:
    """`path` (`v1/messages`) relative to `base_url`, which should not include `/v1`.

    One ending in `/v1` (the OpenAI SDK habit) works too, rather than 404 on `/v1/v1/...`.
    """
    base = httpx.URL(target.base_url).path.rstrip("/")
    if base.endswith("/v1") and path.startswith("v1/"):
        return path.removeprefix("v1/")
    return path


def probe_headers(request: ProbeRequest, extra: Mapping[str, str]) -> dict[str, str]:
    """Affinity key (a fresh one if unset) and no-store, so no cache answers for a backend."""
    return {
        AFFINITY_HEADER: request.affinity_key or uuid.uuid4().hex,
        "Cache-Control": "no-store",
        **extra,
    }


def kept_headers(response: httpx.Response, keep: Iterable[str]) -> dict[str, str]:
    """The response headers named in `keep` (case-insensitive), keyed in lower case."""
    return {name.lower(): response.headers[name] for name in keep if name in response.headers}


def printable(text: str) -> str:
    """`text` with control characters and lone surrogates as `\\x1b`-style escapes.

    Error messages quote vendor bodies and end up in `canary once`, the API and the store: a raw
    ESC or CR there rewrites the operator's terminal or forges lines (log injection), and a lone
    surrogate cannot even be encoded as UTF-8.
    """
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


async def post_json(
    client: httpx.AsyncClient,
    target: Target,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    rate_limit_statuses: frozenset[int] = frozenset({429}),
    auth: httpx.Auth | None = None,
    error_type_header: str | None = None,
    chunk_marks: list[tuple[int, float]] | None = None,
) -> tuple[httpx.Response, bytes, float]:
    """POST `body` and return (response, body bytes, wall seconds) for a 2xx, or raise.

    Raises ProviderTimeout, ProviderRateLimited (a status in `rate_limit_statuses`),
    ProviderHTTPError (other non-2xx; transport failures with status_code None) or
    ProviderProtocolError (body over the size cap or not decodable). `auth` signs the request
    (SigV4, OAuth); `error_type_header` names a header carrying the error type (AWS's
    `x-amzn-ErrorType: ThrottlingException:...`), which then prefixes the summary.
    `chunk_marks` collects (bytes so far, seconds since the request) per body chunk, from
    which a streamed reply's time to first token is read.
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(target.timeout_s):
            for attempt in range(2):
                connected = ConnectWatch()
                try:
                    async with client.stream(
                        "POST",
                        path,
                        json=body,
                        headers=headers,
                        auth=auth,
                        extensions={"trace": connected},
                    ) as response:
                        content = await _read_capped(
                            response, target.max_response_bytes, chunk_marks, started
                        )
                    break
                except httpx.RemoteProtocolError as exc:
                    # A pooled keep-alive connection the server closed while idle fails before
                    # any response byte; the server never saw the request, so send it once
                    # more (as browsers and the vendor SDKs do). On a connection opened for
                    # this request the server did read it: that failure stands, like any other.
                    if attempt or connected.new or not _stale_connection(exc):
                        raise
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise ProviderTimeout(f"no complete reply within {target.timeout_s:g} s") from exc
    except httpx.DecodingError as exc:
        raise ProviderProtocolError(
            redact(f"response body could not be decoded: {exc}", target, _request_of(exc))
        ) from exc
    except httpx.LocalProtocolError as exc:
        # Our own request could not be written (a header value httpx refuses): its message
        # quotes the header, credential and all, so it is never kept.
        raise ProviderHTTPError(f"transport error: {type(exc).__name__}") from exc
    except httpx.RequestError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        message = redact(printable(f"transport error: {reason}"), target, _request_of(exc))
        raise ProviderHTTPError(message) from exc
    latency_s = time.perf_counter() - started
    if response.is_success:
        return response, content, latency_s
    text = redact(content.decode("utf-8", errors="replace"), target, response.request)
    summary = summarise_error(text.encode())  # redacted first: the summary's cut may split a key
    if error_type_header and (kind := response.headers.get(error_type_header, "")):
        summary = f"{kind.split(':', 1)[0]}: {summary}"
    message = redact(f"HTTP {response.status_code}: {summary}", target, response.request)
    if response.status_code in rate_limit_statuses:
        retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
        raise ProviderRateLimited(
            message, status_code=response.status_code, body=text, retry_after_s=retry_after_s
        )
    raise ProviderHTTPError(message, status_code=response.status_code, body=text)


def _request_of(exc: httpx.RequestError) -> httpx.Request | None:
    """The request an httpx error carries (its credentials are redacted), if any."""
    try:
        return exc.request
    except RuntimeError:
        return None


class ConnectWatch:
    """An httpcore trace hook noting whether a request opened a new connection."""

    def __init__(self) -> None:
        self.new = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        del info
        if event.startswith(("connection.connect_tcp.", "connection.connect_unix_socket.")):
            self.new = True


def _stale_connection(exc: httpx.RemoteProtocolError) -> bool:
    return "without sending a response" in str(exc)


async def _read_capped(
    response: httpx.Response,
    cap: int,
    marks: list[tuple[int, float]] | None = None,
    started: float = 0.0,
) -> bytes:
    """The decoded body, at most `cap` bytes: over it a 2xx is an error, an error body is cut.

    Decoding is ours, not httpx's (`decoding.BoundedDecoder`): every Content-Encoding layer is
    inflated in slices that count against `cap`, yielding the loop between slices, so a
    compression bomb costs at most `cap` bytes and never stalls other targets' probes.
    """
    declared = response.headers.get("Content-Length", "")
    if response.is_success and declared.isdigit() and int(declared) > cap:
        raise ProviderProtocolError(
            f"response body exceeds {cap} bytes", status_code=response.status_code
        )
    try:
        decoder = BoundedDecoder(response.headers.get("Content-Encoding", ""), cap)
    except ProviderProtocolError as exc:
        raise ProviderProtocolError(str(exc), status_code=response.status_code) from None
    chunks: list[bytes] = []
    size = 0

    def keep(piece: bytes) -> bool:
        """Add a decoded piece; False once the cap is reached (an error body is cut there)."""
        nonlocal size
        size += len(piece)
        if size > cap:
            if response.is_success:
                raise ProviderProtocolError(
                    f"response body exceeds {cap} bytes", status_code=response.status_code
                )
            chunks.append(piece[: len(piece) - (size - cap)])
            return False
        chunks.append(piece)
        if marks is not None:
            marks.append((size, time.perf_counter() - started))
        return True

    if response.is_stream_consumed:  # built in memory (a MockTransport): httpx decoded it
        keep(response.content)
        return b"".join(chunks)
    try:
        async for raw in response.aiter_raw():
            for piece in decoder.feed(raw):
                if not keep(piece):
                    return b"".join(chunks)
                if decoder.layered:  # a large body inflates slice by slice between other work
                    await asyncio.sleep(0)
        for piece in decoder.finish():
            if not keep(piece):
                break
    except ProviderProtocolError as exc:
        if response.is_success:
            raise ProviderProtocolError(str(exc), status_code=response.status_code) from None
        # An error body that will not decode: its status is the finding; keep what decoded.
    return b"".join(chunks)


def summarise_error(content: bytes) -> str:
    """`type: message` from a vendor error body, at most SUMMARY_MAX_CHARS characters.

    Understands OpenAI/llama.cpp/Anthropic `{"error": {...}}`, vLLM's older top-level
    `{"type", "message"}` and FastAPI's `{"detail": ...}`; anything else is quoted as text.
    """
    text = content.decode("utf-8", errors="replace")
    try:
        doc: Any = json.loads(text)
    except (ValueError, RecursionError):  # nested past the parser's depth: quote it as text
        doc = None
    summary = " ".join(text.split()) or "(empty body)"
    if isinstance(doc, dict):
        error = doc.get("error")
        source = error if isinstance(error, dict) else doc
        kind = source.get("type") or source.get("code")
        message = (
            source.get("message")
            or source.get("detail")
            or (error if isinstance(error, str) else None)
        )
        if message is not None:
            summary = f"{kind}: {message}" if isinstance(kind, str) and kind else str(message)
    summary = printable(" ".join(summary.split()))
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[: SUMMARY_MAX_CHARS - 1] + "…"
    return summary


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110)."""
    if value is None or not (value := value.strip()):
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # `inf`, `nan` and 400 nines parse as floats; no client should wait on them
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def json_object(content: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ProviderProtocolError saying why not.

    Decoded as strict UTF-8 (RFC 8259; a BOM is ignored): `json.loads(bytes)` would pass
    CESU-8 surrogate bytes as lone surrogates.
    """
    try:
        doc: Any = json.loads(content.decode("utf-8-sig"))
    except ValueError as exc:
        raise ProviderProtocolError(f"body is not valid JSON: {exc}") from exc
    except RecursionError:  # json's C parser counts depth against the recursion limit
        raise ProviderProtocolError("body is JSON nested too deeply") from None
    if not isinstance(doc, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(doc))
        kind = kind or "number"
        raise ProviderProtocolError(f"body is a JSON {kind}, not an object")
    return doc


_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    dict: "an object",
    list: "an array",
}


def optional(obj: Mapping[str, Any], key: str, kind: type[Any], where: str) -> Any:
    """`obj[key]` if a `kind` (float takes ints, nothing takes bools), None if missing or null.

    Else a protocol error naming the JSON path; `where` is its prefix (`choices[0].message.`).
    """
    value = obj.get(key)
    if value is None:
        return None
    accepted = (int, float) if kind is float else (kind,)
    if not isinstance(value, accepted) or isinstance(value, bool):
        raise ProviderProtocolError(f"{where}{key} is not {_NAMES.get(kind, kind.__name__)}")
    return float(value) if kind is float else value


def required(obj: Mapping[str, Any], key: str, kind: type[Any], where: str) -> Any:
    """`obj[key]`, which must be present, non-null and a `kind`."""
    if obj.get(key) is None:
        raise ProviderProtocolError(f"{where}{key} is missing")
    return optional(obj, key, kind, where)


def with_body(
    exc: ProviderProtocolError, response: httpx.Response, content: bytes, target: Target
) -> ProviderProtocolError:
    """`exc` redacted, with the status and body attached so that the transcript keeps them."""
    body = redact(content.decode("utf-8", errors="replace"), target, response.request)
    message = redact(printable(str(exc)), target, response.request)
    return ProviderProtocolError(message, status_code=response.status_code, body=body)


def finish_reply(
    parse: Callable[[bytes], Reply],
    target: Target,
    response: httpx.Response,
    content: bytes,
    latency_s: float,
) -> Reply:
    """Parse a 2xx body with the wire module's `parse` and attach the HTTP-level fields.

    A malformed body raises `ProviderProtocolError` with the status and redacted body attached.
    """
    text = content.decode("utf-8", errors="replace")
    clean = redact(text, target, response.request)
    if clean != text:  # a credential echoed in a 2xx: parse the redacted body, so no field keeps it
        content = clean.encode()
    try:
        reply = parse(content)
    except ProviderProtocolError as exc:
        raise with_body(exc, response, content, target) from None
    if holds_secret((reply.text,), target, response.request):
        # Split across stream events, a secret is whole only in the joined text; the raw body
        # still holds its pieces, so it is not kept at all.
        reply = replace(reply, text=redact(reply.text, target, response.request))
        clean = f"{REDACTED}: the reply echoed a credential across stream events"
    return replace(
        reply,
        status_code=response.status_code,
        latency_s=latency_s,
        headers={
            name: redact(value, target, response.request)
            for name, value in kept_headers(response, target.keep_headers).items()
        },
        raw_body=clean,
    )
