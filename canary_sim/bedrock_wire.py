"""Amazon Bedrock's wire formats: Converse, and InvokeModel with the Anthropic body.

Converse bodies follow the Bedrock Runtime API reference (`output.message.content[].text`,
`stopReason`, `usage.inputTokens`); errors are `{"message": ...}` with the exception name in
`x-amzn-ErrorType`, which `error_headers` supplies. The model id comes from the URL path.
"""

from __future__ import annotations

import uuid
from typing import Any

from canary_sim import anthropic_wire, fields
from canary_sim.cloud_fields import anthropic_body, parts_text
from canary_sim.records import ChatRequest, Generation, Message, SimError, WireFormat

INVOKE_VERSION = "bedrock-2023-05-31"
_KNOWN = frozenset(
    {
        "messages",
        "system",
        "inferenceConfig",
        "additionalModelRequestFields",
        "toolConfig",
        "guardrailConfig",
        "requestMetadata",
        "performanceConfig",
    }
)
_CONFIG = frozenset({"maxTokens", "temperature", "topP", "stopSequences"})
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}
_ERROR_TYPES = {
    "invalid_request": "ValidationException",
    "authentication": "UnrecognizedClientException",
    "permission": "AccessDeniedException",
    "not_found": "ResourceNotFoundException",
    "rate_limit": "ThrottlingException",
    "server_error": "InternalServerException",
    "overloaded": "ServiceUnavailableException",
}
_CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def parse_converse(body: Any) -> ChatRequest:
    """Validate a Converse body; raises `SimError` 400 (ValidationException)."""
    if not isinstance(body, dict):
        raise SimError(
            400,
            "invalid_request",
            "Malformed input request, please reformat your input and try again.",
        )
    try:
        extra = sorted(set(body) - _KNOWN)
        if extra:
            raise fields.FieldProblem(extra[0], "extraneous key is not permitted")
        raw = fields.require(body, "messages")
        if not isinstance(raw, list) or not raw:
            raise fields.FieldProblem("messages", "expected a non-empty array")
        messages: list[Message] = []
        for i, msg in enumerate(raw):
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                raise fields.FieldProblem(f"messages.{i}.role", "expected user or assistant")
            messages.append(
                Message(msg["role"], parts_text(msg.get("content"), f"messages.{i}.content"))
            )
        system = None if body.get("system") is None else parts_text(body["system"], "system")
        config = body.get("inferenceConfig") or {}
        if not isinstance(config, dict) or set(config) - _CONFIG:
            raise fields.FieldProblem("inferenceConfig", "unknown or malformed field")
        max_tokens = fields.get_int(config, "maxTokens", lo=1, hi=1 << 20, default=4096)
        fields.get_number(config, "temperature", lo=0, hi=1)
        fields.get_number(config, "topP", lo=0, hi=1)
        stops = fields.get_stops(config, "stopSequences", max_count=4)
    except fields.FieldProblem as problem:
        raise SimError(400, "invalid_request", f"{problem.name}: {problem.problem}") from None
    assert max_tokens is not None
    return ChatRequest(
        model="", messages=tuple(messages), max_tokens=max_tokens, system=system, stop=stops
    )


def render_converse(request: ChatRequest, gen: Generation, response_id: str) -> dict[str, Any]:
    del request, response_id  # Converse bodies carry neither
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": gen.text}]}},
        "stopReason": _STOP_REASONS[gen.finish],
        "usage": {
            "inputTokens": gen.input_tokens,
            "outputTokens": len(gen.tokens),
            "totalTokens": gen.input_tokens + len(gen.tokens),
        },
        "metrics": {"latencyMs": 100},
    }


def render_error(error: SimError, request_id: str) -> dict[str, Any]:
    del request_id
    return {"message": error.message}


def error_headers(error: SimError) -> dict[str, str]:
    """`x-amzn-ErrorType`: the exception name (a SigV4 failure names its own in `code`)."""
    kind = (
        error.code if error.code and error.code.endswith("Exception") else _ERROR_TYPES[error.kind]
    )
    return {"x-amzn-ErrorType": kind + _CORAL}


BEDROCK_CONVERSE = WireFormat(
    api="bedrock_converse",
    parse=parse_converse,
    render=render_converse,
    render_error=render_error,
    new_id=lambda: str(uuid.uuid4()),
    essential_key="output",
    request_id_header="x-amzn-RequestId",
    error_headers=error_headers,
)
BEDROCK_INVOKE = WireFormat(
    api="bedrock_invoke",
    parse=lambda body: anthropic_body(body, INVOKE_VERSION),
    render=anthropic_wire.render,
    render_error=render_error,
    new_id=anthropic_wire.new_id,
    essential_key="content",
    request_id_header="x-amzn-RequestId",
    error_headers=error_headers,
)
