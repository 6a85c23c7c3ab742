"""OpenAI's Responses API and Azure-style deployments, as the simulator speaks them.

Responses bodies must `model_validate` as `openai.types.responses.Response` (the tests check
it); `max_output_tokens` stops are `status: incomplete` with `incomplete_details.reason`.
Azure deployments speak Chat Completions with the model in the path and an `api-version`
query parameter, checked by the server; their key is the `api-key` header.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from canary_sim import fields, openai_wire
from canary_sim.records import ChatRequest, Generation, Message, SimError, WireFormat
from canary_sim.tokens import top_alternatives

_ROLES = frozenset({"user", "assistant"})


def parse_responses(body: Any) -> ChatRequest:
    """Validate a Responses request; raises `SimError` 400 in the OpenAI wording."""
    if not isinstance(body, dict):
        raise SimError(400, "invalid_request", "Invalid request body: expected a JSON object.")
    try:
        model = fields.require(body, "model")
        if not isinstance(model, str):
            raise fields.FieldProblem("model", "expected a string")
        raw = fields.require(body, "input")
        if isinstance(raw, str):
            messages: tuple[Message, ...] = (Message("user", raw),)
            system = None
        else:
            system, messages = fields.conversation(
                raw, system_roles=frozenset({"system", "developer"}), roles=_ROLES
            )
        if body.get("instructions") is not None:
            system = fields.text_of(body["instructions"], "instructions")
        if "stop" in body or "seed" in body:
            name = "stop" if "stop" in body else "seed"
            raise fields.FieldProblem(name, "Unknown parameter")
        max_tokens = fields.get_int(body, "max_output_tokens", lo=16, hi=1 << 20)
        fields.get_number(body, "temperature", lo=0, hi=2)
        fields.get_number(body, "top_p", lo=0, hi=1)
        top = fields.get_int(body, "top_logprobs", lo=0, hi=20, default=0) or 0
        include = body.get("include") or []
        fmt = (body.get("text") or {}).get("format") or {"type": "text"}
        stream = bool(fields.get_bool(body, "stream"))
    except fields.FieldProblem as problem:
        raise SimError(400, "invalid_request", f"{problem.name}: {problem.problem}") from None
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens or openai_wire.DEFAULT_MAX_TOKENS,
        logprobs="message.output_text.logprobs" in include,
        top_logprobs=top,
        json_mode=fmt.get("type") != "text",
        stream=stream,
    )


def _logprobs(gen: Generation, n: int) -> list[dict[str, Any]]:
    entries = []
    for i, token in enumerate(gen.tokens):
        logprob, top = top_alternatives(token, gen.dropped.get(i), n)
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top
                ],
            }
        )
    return entries


def render_responses(request: ChatRequest, gen: Generation, response_id: str) -> dict[str, Any]:
    done = gen.finish != "length"
    out = len(gen.tokens)
    text: dict[str, Any] = {"type": "output_text", "text": gen.text, "annotations": []}
    if request.logprobs:
        text["logprobs"] = _logprobs(gen, request.top_logprobs)
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed" if done else "incomplete",
        "error": None,
        "incomplete_details": None if done else {"reason": "max_output_tokens"},
        "instructions": request.system,
        "model": request.model,
        "output": [
            {
                "type": "message",
                "id": "msg_" + uuid.uuid4().hex,
                "status": "completed" if done else "incomplete",
                "role": "assistant",
                "content": [text],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": gen.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": gen.input_tokens + out,
        },
    }


def parse_azure(body: Any) -> ChatRequest:
    """Chat Completions without `model` (the deployment in the path names it)."""
    if isinstance(body, dict) and "model" not in body:
        body = {**body, "model": ""}
    return openai_wire.parse(body)


OPENAI_RESPONSES = WireFormat(
    api="openai_responses",
    parse=parse_responses,
    render=render_responses,
    render_error=openai_wire.render_error,
    new_id=lambda: "resp_" + uuid.uuid4().hex,
    essential_key="output",
    request_id_header="x-request-id",
)
AZURE_OPENAI_CHAT = WireFormat(
    api="azure_openai_chat",
    parse=parse_azure,
    render=openai_wire.render,
    render_error=openai_wire.render_error,
    new_id=openai_wire.new_id,
    essential_key="choices",
    request_id_header="apim-request-id",
)
