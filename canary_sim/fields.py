"""Typed reads of JSON request fields, shared by both wire formats.

Each helper raises `FieldProblem` naming the field; the wire module words it the way its vendor
does ("Invalid 'max_tokens': ..." for OpenAI, "max_tokens: ..." for Anthropic), so a provider
bug shows up as the same 400 the real API would give.
"""

from __future__ import annotations

from typing import Any

from canary_sim.records import Message


class FieldProblem(ValueError):
    """One bad or missing request field; `missing` distinguishes the two for wording."""

    def __init__(self, name: str, problem: str, *, missing: bool = False) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem
        self.missing = missing


def require(body: dict[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise FieldProblem(name, "Field required", missing=True)
    return body[name]


def get_int(
    body: dict[str, Any], name: str, *, lo: int, hi: int, default: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldProblem(name, f"expected an integer, but got {type(value).__name__}")
    if not lo <= value <= hi:
        raise FieldProblem(name, f"expected a value between {lo} and {hi}, but got {value}")
    return value


def get_number(body: dict[str, Any], name: str, *, lo: float, hi: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldProblem(name, f"expected a number, but got {type(value).__name__}")
    if not lo <= value <= hi:
        raise FieldProblem(name, f"expected a value between {lo} and {hi}, but got {value}")
    return float(value)


def get_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FieldProblem(name, f"expected a boolean, but got {type(value).__name__}")
    return value


def get_stops(body: dict[str, Any], name: str, *, max_count: int) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise FieldProblem(name, "expected a string or an array of strings")
    if len(value) > max_count:
        raise FieldProblem(name, f"expected at most {max_count} sequences")
    return tuple(value)


def text_of(value: Any, name: str) -> str:
    """Message content as text: a string, or a list of `{"type": "text", "text": ...}` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for i, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise FieldProblem(f"{name}.{i}", "the simulator accepts text content only")
            text = part.get("text")
            if not isinstance(text, str):
                raise FieldProblem(f"{name}.{i}.text", "expected a string")
            parts.append(text)
        return "\n".join(parts)
    raise FieldProblem(name, "expected a string or an array of content parts")


def conversation(
    messages: Any, *, system_roles: frozenset[str], roles: frozenset[str]
) -> tuple[str | None, tuple[Message, ...]]:
    """Split a messages array into (system text, user/assistant turns)."""
    if not isinstance(messages, list) or not messages:
        raise FieldProblem("messages", "expected a non-empty array")
    system: list[str] = []
    turns: list[Message] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise FieldProblem(f"messages.{i}", "expected an object")
        role = msg.get("role")
        if role not in roles | system_roles:
            raise FieldProblem(f"messages.{i}.role", f"unsupported role {role!r}")
        content = "" if msg.get("content") is None else text_of(msg["content"], f"messages.{i}")
        if role in system_roles:
            system.append(content)
        else:
            turns.append(Message("assistant" if role == "assistant" else "user", content))
    return ("\n".join(system) if system else None), tuple(turns)
