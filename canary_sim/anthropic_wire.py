"""The Anthropic Messages wire format, as the official SDK's models define it.

Bodies must `model_validate` as `anthropic.types.Message`; errors as
`anthropic.types.ErrorResponse`. Like the real API, `max_tokens` is required and unknown
request fields are rejected, so a provider that drifts from the spec fails here first.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from canary_sim import fields
from canary_sim.records import ChatRequest, Generation, SimError, WireFormat

_KNOWN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
    }
)
_ROLES = frozenset({"user", "assistant"})
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}
_ERROR_TYPES = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "server_error": "api_error",
    "overloaded": "overloaded_error",
}
_BASE62 = string.digits + string.ascii_letters


def parse(body: Any) -> ChatRequest:
    """Validate a request body; raises `SimError` 400 worded like the Anthropic API."""
    if not isinstance(body, dict):
        raise SimError(400, "invalid_request", "Input should be a valid dictionary")
    try:
        extra = sorted(set(body) - _KNOWN_FIELDS)
        if extra:
            raise fields.FieldProblem(extra[0], "Extra inputs are not permitted")
        model = fields.require(body, "model")
        if not isinstance(model, str):
            raise fields.FieldProblem("model", "Input should be a valid string")
        fields.require(body, "max_tokens")
        max_tokens = fields.get_int(body, "max_tokens", lo=1, hi=1 << 20)
        _, messages = fields.conversation(
            fields.require(body, "messages"), system_roles=frozenset(), roles=_ROLES
        )
        system = None if body.get("system") is None else fields.text_of(body["system"], "system")
        stream = bool(fields.get_bool(body, "stream"))
        fields.get_number(body, "temperature", lo=0, hi=1)
        fields.get_number(body, "top_p", lo=0, hi=1)
        fields.get_int(body, "top_k", lo=0, hi=1 << 31)
        stops = fields.get_stops(body, "stop_sequences", max_count=8191)
    except fields.FieldProblem as problem:
        raise SimError(400, "invalid_request", f"{problem.name}: {problem.problem}") from None
    assert max_tokens is not None
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        stop=stops,
        stream=stream,
    )


def render(request: ChatRequest, gen: Generation, response_id: str) -> dict[str, Any]:
    return {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [{"type": "text", "text": gen.text}],
        "stop_reason": _STOP_REASONS[gen.finish],
        "stop_sequence": gen.stop_sequence,
        "usage": {
            "input_tokens": gen.input_tokens,
            "output_tokens": len(gen.tokens),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def render_error(error: SimError, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES[error.kind], "message": error.message},
        "request_id": request_id,
    }


def new_id() -> str:
    return "msg_01" + "".join(secrets.choice(_BASE62) for _ in range(22))


ANTHROPIC_MESSAGES = WireFormat(
    api="anthropic_messages",
    parse=parse,
    render=render,
    render_error=render_error,
    new_id=new_id,
    essential_key="content",
    request_id_header="request-id",
)
