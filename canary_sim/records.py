"""The wire-neutral records the simulator passes between parsing, generation and rendering.

Each wire format (`openai_wire`, `anthropic_wire`) parses its body into a `ChatRequest` and
renders a `Generation` back; everything in between (answers, faults, tokens) never sees JSON.
That keeps the two formats honest twins: a fault behaves the same whichever API a pool speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Api = Literal[
    "openai_chat",
    "anthropic_messages",
    "bedrock_converse",
    "bedrock_invoke",
    "vertex_anthropic",
    "vertex_gemini",
    "openai_responses",
    "azure_openai_chat",
]


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation, as the wire formats parse it: `role` is user or assistant."""

    role: str
    content: str


ErrorKind = Literal[
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "rate_limit",
    "server_error",
    "overloaded",
]


class SimError(Exception):
    """A request the simulator refuses; each wire format renders it in its vendor shape."""

    def __init__(
        self,
        status: int,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat request, normalised: what every fault and the answer book look at."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    system: str | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    json_mode: bool = False
    stream: bool = False  # `stream: true`, or a streaming route (Bedrock, Vertex)


FinishKind = Literal["stop", "length", "stop_sequence"]


@dataclass(slots=True)
class Generation:
    """A reply as tokens, before a wire format renders it.

    `dropped` maps a token position to the token a dropped-top-token fault replaced there, so
    the logprobs can still report the original as the top-1 alternative.
    """

    tokens: list[str]
    fingerprint: str
    input_tokens: int
    finish: FinishKind = "stop"
    stop_sequence: str | None = None
    dropped: dict[int, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True, slots=True)
class WireFormat:
    """One vendor API: how to parse a body, render a reply, and render an error."""

    api: Api
    parse: Callable[[Any], ChatRequest]
    render: Callable[[ChatRequest, Generation, str], dict[str, Any]]
    render_error: Callable[[SimError, str], dict[str, Any]]
    new_id: Callable[[], str]
    essential_key: str  # the key a "wrong shape" malformed body leaves out
    request_id_header: str
    error_headers: Callable[[SimError], dict[str, str]] | None = None  # e.g. x-amzn-ErrorType
