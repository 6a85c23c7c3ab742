"""`json_schema`: a structured-output probe must still return JSON that fits its schema.

Guards output corruption and truncation: a serving misconfiguration that boosts tokens which
should almost never appear breaks JSON syntax (a stray character, a missing brace), and a reply
cut short by a misrouted pool or a wrong max-tokens setting leaves an unclosed object. Clients
parse this JSON strictly, so the detector does too: NaN and Infinity are not JSON.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import regex
from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

from monitor.config.expectation import Expectation
from monitor.detectors.descriptor import Detector
from monitor.types import Check, Reply

NAME = "json_schema"

#: Evidence keeps the head of long messages (schema errors can quote the whole instance).
EVIDENCE_CHARS = 200
#: Distinct schemas are few (one per probe); the bound only stops a leak from ad-hoc input.
VALIDATOR_CACHE_SIZE = 256

# A CommonMark fence: up to three spaces, three or more backticks or tildes, an info string.
_FENCE_OPEN = regex.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\s`]*)[^\n`]*$")
_JSON_TAGS = frozenset({"", "json"})


def _reject_constant(name: str) -> Any:
    """`json.loads` accepts NaN and Infinity; strict client parsers, and so this one, do not."""
    raise ValueError(f"non-standard constant {name}")


def _first_json_fence(text: str) -> tuple[str, int] | None:
    """The body of the first ```json or untagged fenced block and its 0-based first line.

    Blocks tagged with another language are skipped. An unclosed fence runs to the end of the
    reply, as in CommonMark: a truncated reply then shows up as a parse error at its end
    rather than as "no JSON".
    """
    lines = text.split("\n")  # json.loads counts lines on "\n" only; so must the offset
    i = 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i])
        i += 1
        if opened is None:
            continue
        char, width = opened["fence"][0], len(opened["fence"])
        first = i
        while i < len(lines):
            closing = lines[i].strip()
            if len(closing) >= width and not closing.strip(char):
                break
            i += 1
        if opened["info"].casefold() in _JSON_TAGS:
            return "\n".join(lines[first:i]), first
        i += 1  # past the closing fence of a block in another language
    return None


def _parse(text: str, line_offset: int) -> tuple[Any, dict[str, Any] | None]:
    """Parse strictly; return (value, None) or (None, a parse error with reply-relative line)."""
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, {"message": exc.msg, "line": exc.lineno + line_offset, "column": exc.colno}
    except RecursionError:
        return None, {"message": "nesting too deep"}
    except ValueError as exc:  # NaN/Infinity, or an integer over Python's digit limit
        return None, {"message": str(exc)[:EVIDENCE_CHARS]}


@functools.lru_cache(maxsize=VALIDATOR_CACHE_SIZE)
def _validator(schema_key: str) -> Validator:
    """Build the validator for a canonical schema once; format assertions stay off."""
    schema = json.loads(schema_key)
    cls = validators.validator_for(schema)
    validator: Validator = cls(schema)
    return validator


def _schema_error(schema: dict[str, Any], instance: Any) -> tuple[dict[str, Any] | None, int]:
    """The most relevant schema error (path and message) and how many errors there are."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    try:
        errors = list(validator.iter_errors(instance))
    except RecursionError:
        return {"path": "$", "message": "instance nesting too deep to validate"}, 1
    best = exceptions.best_match(errors)
    if best is None:
        return None, 0
    return {"path": best.json_path, "message": best.message[:EVIDENCE_CHARS]}, len(errors)


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge the reply against `expect.json`; None when no JSON is expected.

    The whole reply is tried first, then the first ```json or untagged fenced block. Scores:
    1.0 valid, 0.5 parses but breaks the schema, 0.0 no parseable JSON.
    """
    spec = expect.json_
    if spec is None:
        return None
    value, error = _parse(reply.text, 0)
    source = "whole"
    evidence: dict[str, Any] = {}
    if error is not None:
        fenced = _first_json_fence(reply.text)
        if fenced is None:
            evidence = {"source": None, "parse_error": error}
            return Check(detector=NAME, passed=False, score=0.0, evidence=evidence)
        source = "fenced"
        value, error = _parse(*fenced)
        if error is not None:
            evidence = {"source": source, "parse_error": error}
            return Check(detector=NAME, passed=False, score=0.0, evidence=evidence)
    evidence = {"source": source}
    if spec.schema_ is None:
        return Check(detector=NAME, passed=True, score=1.0, evidence=evidence)
    schema_error, count = _schema_error(spec.schema_, value)
    if schema_error is None:
        return Check(detector=NAME, passed=True, score=1.0, evidence=evidence)
    evidence |= {"schema_error": schema_error, "schema_error_count": count}
    return Check(detector=NAME, passed=False, score=0.5, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="output corruption",
    applies=lambda expect: expect.json_ is not None,
    reasons=("parse_error", "schema_error"),
    check=check,
)
