"""Google Vertex AI's wire formats: Gemini `generateContent` and Anthropic `rawPredict`.

Gemini bodies follow the Vertex REST reference (`candidates[].content.parts[].text`,
`finishReason`, `usageMetadata`, `logprobsResult` when `responseLogprobs` is set); unknown
fields are rejected as Vertex does. Errors are Google's `{"error": {code, message, status}}`.
rawPredict takes the Anthropic body with `anthropic_version: vertex-2023-10-16`, no `model`.
"""

from __future__ import annotations

import secrets
from typing import Any

from canary_sim import anthropic_wire, fields
from canary_sim.cloud_fields import anthropic_body, parts_text
from canary_sim.records import ChatRequest, Generation, Message, SimError, WireFormat
from canary_sim.tokens import top_alternatives

RAW_PREDICT_VERSION = "vertex-2023-10-16"
_KNOWN = frozenset(
    {"contents", "systemInstruction", "generationConfig", "safetySettings", "tools", "labels"}
)
_CONFIG = frozenset(
    {
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "stopSequences",
        "responseLogprobs",
        "logprobs",
        "responseMimeType",
        "candidateCount",
    }
)
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "stop_sequence": "STOP"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _invalid(name: str, problem: str) -> SimError:
    return SimError(400, "invalid_request", f"Invalid JSON payload received. {name}: {problem}")


def parse_gemini(body: Any) -> ChatRequest:
    """Validate a GenerateContentRequest; raises `SimError` 400 INVALID_ARGUMENT."""
    if not isinstance(body, dict):
        raise _invalid("body", "expected an object")
    try:
        extra = sorted(set(body) - _KNOWN)
        if extra:
            raise fields.FieldProblem(extra[0], "Unknown name: Cannot find field.")
        contents = fields.require(body, "contents")
        if not isinstance(contents, list) or not contents:
            raise fields.FieldProblem("contents", "expected a non-empty array")
        messages: list[Message] = []
        for i, turn in enumerate(contents):
            if not isinstance(turn, dict) or turn.get("role") not in ("user", "model"):
                raise fields.FieldProblem(f"contents[{i}].role", "expected user or model")
            text = parts_text(turn.get("parts"), f"contents[{i}].parts")
            messages.append(Message("assistant" if turn["role"] == "model" else "user", text))
        instruction = body.get("systemInstruction")
        system = None
        if instruction is not None:
            if not isinstance(instruction, dict):
                raise fields.FieldProblem("systemInstruction", "expected an object")
            system = parts_text(instruction.get("parts"), "systemInstruction.parts")
        config = body.get("generationConfig") or {}
        if not isinstance(config, dict):
            raise fields.FieldProblem("generationConfig", "expected an object")
        if extra := sorted(set(config) - _CONFIG):
            raise fields.FieldProblem(
                f"generationConfig.{extra[0]}", "Unknown name: Cannot find field."
            )
        max_tokens = fields.get_int(config, "maxOutputTokens", lo=1, hi=65536, default=8192)
        fields.get_number(config, "temperature", lo=0, hi=2)
        fields.get_number(config, "topP", lo=0, hi=1)
        fields.get_int(config, "seed", lo=-(1 << 31), hi=(1 << 31) - 1)
        stops = fields.get_stops(config, "stopSequences", max_count=5)
        logprobs = fields.get_bool(config, "responseLogprobs")
        top = fields.get_int(config, "logprobs", lo=0, hi=20, default=0) or 0
    except fields.FieldProblem as problem:
        raise _invalid(problem.name, problem.problem) from None
    assert max_tokens is not None
    return ChatRequest(
        model="",
        messages=tuple(messages),
        max_tokens=max_tokens,
        system=system,
        stop=stops,
        logprobs=logprobs,
        top_logprobs=top,
        json_mode=config.get("responseMimeType") == "application/json",
    )


def _logprobs(gen: Generation, n: int) -> dict[str, Any]:
    chosen: list[dict[str, Any]] = []
    tops: list[dict[str, Any]] = []
    for i, token in enumerate(gen.tokens):
        logprob, top = top_alternatives(token, gen.dropped.get(i), n)
        chosen.append({"token": token, "logProbability": logprob})
        tops.append({"candidates": [{"token": t, "logProbability": lp} for t, lp in top]})
    return {"topCandidates": tops, "chosenCandidates": chosen}


def render_gemini(request: ChatRequest, gen: Generation, response_id: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": gen.text}]},
        "finishReason": _FINISH[gen.finish],
    }
    if request.logprobs:
        candidate["logprobsResult"] = _logprobs(gen, request.top_logprobs)
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": gen.input_tokens,
            "candidatesTokenCount": len(gen.tokens),
            "totalTokenCount": gen.input_tokens + len(gen.tokens),
        },
        "modelVersion": request.model,
        "responseId": response_id,
    }


def render_error(error: SimError, request_id: str) -> dict[str, Any]:
    del request_id
    status = _STATUS.get(error.status, "INTERNAL" if error.status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": error.status, "message": error.message, "status": status}}


VERTEX_GEMINI = WireFormat(
    api="vertex_gemini",
    parse=parse_gemini,
    render=render_gemini,
    render_error=render_error,
    new_id=lambda: secrets.token_urlsafe(17),
    essential_key="candidates",
    request_id_header="x-goog-request-id",
)
VERTEX_ANTHROPIC = WireFormat(
    api="vertex_anthropic",
    parse=lambda body: anthropic_body(body, RAW_PREDICT_VERSION),
    render=anthropic_wire.render,
    render_error=render_error,
    new_id=anthropic_wire.new_id,
    essential_key="content",
    request_id_header="request-id",
)
