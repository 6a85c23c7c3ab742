"""The core of `canary detect`: re-judge replies offline with the daemon's own detectors.

JSONL in, JSONL out, one object a line and in the same order, so a transcript exported from
the store (or any other source) can be scored exactly as a probe run would score it:

    in:  {"id": "r1", "text": "...", "expect": {...}, "finish_reason": "stop",
          "logprobs": [{"token": "Paris", "logprob": -0.01, "top": [["Paris", -0.01]]}]}
    out: {"id": "r1", "checks": [{"detector": ..., "passed": ..., "score": ..., "evidence": ...}]}
    bad: {"id": "r1" or null, "line": 3, "error": "expect.answer: set exactly one of ..."}

A bad line gets an error object and the run goes on: one malformed record in a large export
must not cost the rest. Keys other than those above are ignored, so records that carry more
context (platform, model, timestamps) can be piped in as they are. `expect` is required, even
if empty, so that a misspelt key cannot silently judge nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.config.expectation import Expectation, FinishReasonName
from monitor.detectors import run_detectors, select
from monitor.types import FinishReason, Reply, TokenLogprob


class _Logprob(BaseModel):
    """One generated token as `canary detect` reads it; `top` holds [token, logprob] pairs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    logprob: float
    top: list[tuple[str, float]] = []


class _Line(BaseModel):
    """One input record. Extra keys are ignored (see the module docstring)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Any = None
    text: str
    expect: Expectation
    finish_reason: FinishReasonName | None = None
    raw_finish_reason: str | None = None
    logprobs: list[_Logprob] | None = None

    def reply(self) -> Reply:
        logprobs = None
        if self.logprobs is not None:
            logprobs = tuple(
                TokenLogprob(token=t.token, logprob=t.logprob, top=tuple(t.top))
                for t in self.logprobs
            )
        return Reply(
            text=self.text,
            finish_reason=None if self.finish_reason is None else FinishReason(self.finish_reason),
            raw_finish_reason=self.raw_finish_reason,
            logprobs=logprobs,
        )


_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _loc(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a path: ("logprobs", 0, "top") -> logprobs[0].top."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "line"


def _describe(exc: ValidationError) -> str:
    """The first validation error as `field: message`, plus how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_loc(tuple(first['loc']))}: {message}{more}"


def _judge(raw: str, only: tuple[str, ...]) -> dict[str, Any]:
    """One line in, one output object out: checks, or an error without the line number."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"invalid JSON: {exc.msg} at column {exc.colno}"}
    except RecursionError:
        return {"id": None, "error": "invalid JSON: nested too deeply"}
    except ValueError as exc:  # an integer over Python's digit limit
        return {"id": None, "error": f"invalid JSON: {str(exc)[:200]}"}
    if not isinstance(record, dict):
        kind = _JSON_KINDS.get(type(record), type(record).__name__)
        return {"id": None, "error": f"expected a JSON object, got {kind}"}
    try:
        line = _Line.model_validate(record)
    except ValidationError as exc:
        return {"id": record.get("id"), "error": _describe(exc)}
    checks = run_detectors(line.reply(), line.expect, only)
    return {"id": line.id, "checks": [c.to_dict() for c in checks]}


def detect_stream(
    lines: Iterable[str], out: TextIO, only: Collection[str] | None
) -> tuple[int, int]:
    """Judge each JSONL record in `lines`, writing one JSON line per record to `out`.

    Blank lines are skipped but counted, so error line numbers match the input file (1-based).
    `only` restricts the detectors by name; an unknown name raises ValueError before any input
    is read. Each output line is flushed, so `canary detect` can serve as a coprocess.
    Returns (records judged, records rejected).
    """
    names = select(only)
    ok = errors = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        result = _judge(raw, names)
        if "error" in result:
            result = {"id": result["id"], "line": number, "error": result["error"]}
            errors += 1
        else:
            ok += 1
        line = json.dumps(result, ensure_ascii=False)
        if not line.isascii() and _unencodable(line):
            line = json.dumps(result)  # a lone surrogate from the input: escape, never crash
        out.write(line + "\n")
        out.flush()
    return ok, errors


def _unencodable(text: str) -> bool:
    """True if `text` holds a lone surrogate, which a UTF-8 stdout refuses to write."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
