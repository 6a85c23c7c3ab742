"""Request-field helpers shared by the cloud wire formats (Bedrock, Vertex).

Both platforms put text in `[{"text": ...}]` part lists and forward the Anthropic body with a
platform `anthropic_version` instead of `model`; these helpers keep that in one place.
"""

from __future__ import annotations

from typing import Any

from canary_sim import anthropic_wire, fields
from canary_sim.records import ChatRequest, SimError


def parts_text(value: Any, name: str) -> str:
    """The text of a `[{"text": ...}]` list (Converse content, Gemini parts, system blocks)."""
    if not isinstance(value, list):
        raise fields.FieldProblem(name, "expected an array of parts")
    texts: list[str] = []
    for i, part in enumerate(value):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise fields.FieldProblem(f"{name}.{i}.text", "the simulator accepts text parts only")
        texts.append(part["text"])
    return "".join(texts)


def anthropic_body(body: Any, version: str) -> ChatRequest:
    """An Anthropic Messages body forwarded by a platform: `anthropic_version`, no `model`.

    The model comes from the URL; the server fills it in after parsing.
    """
    if not isinstance(body, dict):
        raise SimError(400, "invalid_request", "Input should be a valid dictionary")
    if body.get("anthropic_version") != version:
        raise SimError(
            400,
            "invalid_request",
            f"anthropic_version: expected {version!r}",
            param="anthropic_version",
        )
    if "model" in body:
        raise SimError(400, "invalid_request", "model: Extra inputs are not permitted")
    rest = {k: v for k, v in body.items() if k != "anthropic_version"}
    return anthropic_wire.parse({**rest, "model": ""})
