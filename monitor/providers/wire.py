"""A wire spec: everything one wire API needs, as data, and the one exchange that uses it.

Each wire module declares a `WireSpec` (`openai_chat.SPEC`, `bedrock.CONVERSE`, ...): the
request path, body and header builders, the reply parser, the stream assembler, what it can
serve, and how it authenticates. `WireSpec.send` is the only code that turns a spec into a
request, plain or streamed: streaming is a property of the spec (`stream_path`,
`stream_fields`, `stream_headers`, `assemble_stream`), not a second copy of every API.

A streamed reply goes through the same size cap, deadline, redaction and parser as a plain
one (the assembler rebuilds a body the plain parser reads), and carries two timings the plain
path cannot measure: time to first token and output tokens per second after it. The whole
stream is read with a (bytes, seconds) mark per chunk; the time to first token is the mark of
the chunk that completed the first event carrying text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from monitor.config.model import Target
from monitor.providers.http import finish_reply, post_json
from monitor.types import ProbeRequest, Reply

#: (target) -> the path relative to `base_url` (`v1/chat/completions`, `model/{id}/converse`).
PathFn = Callable[[Target], str]
#: The JSON request body for a probe, unstreamed.
BodyFn = Callable[[Target, ProbeRequest], dict[str, Any]]
#: The request headers: probe headers plus the API's own (version, key).
HeadersFn = Callable[[Target, ProbeRequest], dict[str, str]]
#: A 2xx body -> the reply without HTTP fields; raises ProviderProtocolError if malformed.
ParseFn = Callable[[bytes], Reply]
#: A whole streamed body -> (the reply, the byte offset just past the first text event).
AssembleFn = Callable[[bytes], tuple[Reply, int | None]]
#: (target) -> the request signer (SigV4, an OAuth bearer), for APIs without an api key.
AuthFn = Callable[[Target], httpx.Auth]

@dataclass(frozen=True, slots=True)
class Capabilities:
    """Request features a wire API honours; `max_context_tokens` None means not enforced here."""

    logprobs: bool
    seed: bool
    system_prompt: bool = True
    stop_sequences: bool = True
    json_mode: bool = False
    streaming: bool = True
    max_context_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class WireSpec:
    """One wire API: how to ask (path, body, headers, auth) and how to read the answer.

    `name` is the config's `api:` value. A streamed request posts to `stream_path` (None: the
    plain path) the plain body updated with `stream_fields`, and the plain headers updated
    with `stream_headers`; the answer is read by `assemble_stream` instead of `parse`.
    `rate_limit_statuses` are throttling rather than errors (Anthropic's 529 overloaded);
    `error_type_header` names a header carrying the error type (AWS's `x-amzn-ErrorType`).
    """

    name: str
    path: PathFn
    build_body: BodyFn
    headers: HeadersFn
    parse: ParseFn
    assemble_stream: AssembleFn
    capabilities: Capabilities
    auth: AuthFn | None = None
    stream_path: PathFn | None = None
    stream_fields: Mapping[str, Any] = field(default_factory=dict)
    stream_headers: Mapping[str, str] = field(default_factory=dict)
    rate_limit_statuses: frozenset[int] = frozenset({429})
    error_type_header: str | None = None

    async def send(
        self,
        client: httpx.AsyncClient,
        target: Target,
        request: ProbeRequest,
        *,
        stream: bool | None = None,
        auth: httpx.Auth | None = None,
    ) -> Reply:
        """Send one probe and return the normalised reply; raises only `ProviderError`s.

        `stream` None follows `request.stream`; `auth` overrides the spec's signer (tests
        inject a clock or a static token).
        """
        streamed = request.stream if stream is None else stream
        body = self.build_body(target, request)
        headers = self.headers(target, request)
        path = self.path(target)
        if streamed:
            body = {**body, **self.stream_fields}
            headers = {**headers, **self.stream_headers}
            path = (self.stream_path or self.path)(target)
        if auth is None and self.auth is not None:
            auth = self.auth(target)
        marks: list[tuple[int, float]] | None = [] if streamed else None
        response, content, latency_s = await post_json(
            client,
            target,
            path,
            body,
            headers,
            rate_limit_statuses=self.rate_limit_statuses,
            auth=auth,
            error_type_header=self.error_type_header,
            chunk_marks=marks,
        )
        if marks is None:
            return finish_reply(self.parse, target, response, content, latency_s)
        first: list[int | None] = []

        def assemble(raw: bytes) -> Reply:
            reply, offset = self.assemble_stream(raw)
            first.append(offset)
            return reply

        reply = finish_reply(assemble, target, response, content, latency_s)
        ttft, rate = timing(marks, first[0], reply, latency_s)
        return replace(reply, time_to_first_token_s=ttft, output_tokens_per_s=rate)


def timing(
    marks: list[tuple[int, float]], first: int | None, reply: Reply, latency_s: float
) -> tuple[float | None, float | None]:
    """(time to first token, output tokens per second after it) from the chunk marks."""
    ttft = None if first is None else next((t for size, t in marks if size >= first), None)
    rate = None
    if ttft is not None and reply.output_tokens and latency_s > ttft:
        rate = reply.output_tokens / (latency_s - ttft)
    return ttft, rate
