"""The OpenAI chat-completions wire format, as the official SDK's models define it.

Bodies must `model_validate` as `openai.types.chat.ChatCompletion` (the tests check it), so
the daemon's provider is tested against the real shape, logprobs and errors included.
Unknown request fields are ignored, as vLLM and other OpenAI-compatible servers do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from canary_sim import fields
from canary_sim.records import ChatRequest, Generation, SimError, WireFormat
from canary_sim.tokens import top_alternatives

DEFAULT_MAX_TOKENS = 16384
_ROLES = frozenset({"user", "assistant", "tool"})
_SYSTEM_ROLES = frozenset({"system", "developer"})
_FORMATS = ("text", "json_object", "json_schema")
_ERROR_TYPES = {
    "invalid_request": "invalid_request_error",
    "authentication": "invalid_request_error",
    "permission": "invalid_request_error",
    "not_found": "invalid_request_error",
    "rate_limit": "requests",
    "server_error": "server_error",
    "overloaded": "server_error",
}


def _invalid(problem: fields.FieldProblem) -> SimError:
    if problem.missing:
        return SimError(
            400,
            "invalid_request",
            f"Missing required parameter: '{problem.name}'.",
            param=problem.name,
            code="missing_required_parameter",
        )
    return SimError(
        400,
        "invalid_request",
        f"Invalid '{problem.name}': {problem.problem}.",
        param=problem.name,
        code="invalid_value",
    )


def parse(body: Any) -> ChatRequest:
    """Validate a request body; raises `SimError` 400 in the OpenAI wording."""
    if not isinstance(body, dict):
        raise SimError(400, "invalid_request", "Invalid request body: expected a JSON object.")
    try:
        model = fields.require(body, "model")
        if not isinstance(model, str):
            raise fields.FieldProblem("model", "expected a string")
        system, messages = fields.conversation(
            fields.require(body, "messages"), system_roles=_SYSTEM_ROLES, roles=_ROLES
        )
        stream = bool(fields.get_bool(body, "stream"))
        options = body.get("stream_options")
        if options is not None and (not stream or not isinstance(options, dict)):
            raise fields.FieldProblem("stream_options", "only allowed when `stream` is true")
        fields.get_int(body, "n", lo=1, hi=1)  # one choice per request, as probes ask
        max_tokens = fields.get_int(body, "max_completion_tokens", lo=1, hi=1 << 20)
        if max_tokens is None:
            max_tokens = fields.get_int(body, "max_tokens", lo=1, hi=1 << 20)
        fields.get_number(body, "temperature", lo=0, hi=2)
        fields.get_number(body, "top_p", lo=0, hi=1)
        fields.get_int(body, "seed", lo=-(1 << 63), hi=(1 << 64) - 1)
        logprobs = fields.get_bool(body, "logprobs")
        top_logprobs = fields.get_int(body, "top_logprobs", lo=0, hi=20, default=0) or 0
        if "top_logprobs" in body and body["top_logprobs"] is not None and not logprobs:
            raise fields.FieldProblem("top_logprobs", "`logprobs` must be true to use it")
        fmt = body.get("response_format") or {"type": "text"}
        if not isinstance(fmt, dict) or fmt.get("type") not in _FORMATS:
            raise fields.FieldProblem("response_format", f"type must be one of {_FORMATS}")
        return ChatRequest(
            model=model,
            messages=messages,
            system=system,
            max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
            stop=fields.get_stops(body, "stop", max_count=4),
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            json_mode=fmt["type"] != "text",
            stream=stream,
        )
    except fields.FieldProblem as problem:
        raise _invalid(problem) from None


def _logprobs(gen: Generation, n: int) -> dict[str, Any]:
    content = []
    for i, token in enumerate(gen.tokens):
        logprob, top = top_alternatives(token, gen.dropped.get(i), n)
        content.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode("utf-8")),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in top
                ],
            }
        )
    return {"content": content, "refusal": None}


def render(request: ChatRequest, gen: Generation, response_id: str) -> dict[str, Any]:
    output_tokens = len(gen.tokens)
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": gen.fingerprint,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": gen.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": _logprobs(gen, request.top_logprobs) if request.logprobs else None,
                "finish_reason": "length" if gen.finish == "length" else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": gen.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": gen.input_tokens + output_tokens,
        },
    }


def render_error(error: SimError, request_id: str) -> dict[str, Any]:
    del request_id  # OpenAI carries it in the x-request-id header only
    return {
        "error": {
            "message": error.message,
            "type": _ERROR_TYPES[error.kind],
            "param": error.param,
            "code": error.code,
        }
    }


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:29]


OPENAI_CHAT = WireFormat(
    api="openai_chat",
    parse=parse,
    render=render,
    render_error=render_error,
    new_id=new_id,
    essential_key="choices",
    request_id_header="x-request-id",
)
