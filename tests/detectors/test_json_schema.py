"""json_schema: JSON from the whole reply or its first JSON fence, checked against a schema."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import json_schema
from monitor.types import FinishReason, Reply

SCHEMA = {
    "type": "object",
    "required": ["city"],
    "properties": {"city": {"type": "string"}, "tags": {"type": "array", "maxItems": 1}},
}


def _reply(text: str) -> Reply:
    return Reply(text=text, finish_reason=FinishReason.STOP)


def _expect(schema: dict[str, Any] | None = SCHEMA) -> Expectation:
    return Expectation.model_validate({"json": {} if schema is None else {"schema": schema}})


@pytest.mark.parametrize(
    ("text", "score", "source"),
    [
        ('{"city": "Paris"}', 1.0, "whole"),
        ('\n  {"city": "Paris"}\n', 1.0, "whole"),
        ('Here:\n```json\n{"city": "Paris"}\n```\nDone.', 1.0, "fenced"),
        ('Here:\n```\n{"city": "Paris"}\n```', 1.0, "fenced"),
        ('```JSON\n{"city": "Paris"}\n```', 1.0, "fenced"),
        ('~~~json\n{"city": "Paris"}\n~~~', 1.0, "fenced"),
        ('```python\nx = {"a": 1}\n```\n```json\n{"city": "Paris"}\n```', 1.0, "fenced"),
        ('{"city": 3}', 0.5, "whole"),
        ('{"city": "Paris", "tags": [1, 2]}', 0.5, "whole"),
        ('```json\n{"town": "Paris"}\n```', 0.5, "fenced"),
        ('```json\n{"city": "Par', 0.0, "fenced"),
        ('{"city": "Paris"', 0.0, None),
        ('The answer is {"city": "Paris"}', 0.0, None),
        ("```python\nprint(1)\n```", 0.0, None),
        ('{"city": NaN}', 0.0, None),
        ("", 0.0, None),
    ],
)
def test_scores(text: str, score: float, source: str | None) -> None:
    """Valid JSON scores 1.0, schema-invalid 0.5, unparseable 0.0, with its source named."""
    result = json_schema.check(_reply(text), _expect())
    assert result is not None
    assert (result.score, result.passed, result.evidence["source"]) == (score, score == 1.0, source)


def test_none_without_json_expectation() -> None:
    """A probe that expects no JSON gets no check."""
    assert json_schema.check(_reply("{}"), Expectation()) is None


def test_any_json_passes_without_schema() -> None:
    """With `json: {}` any well-formed JSON passes, whatever its shape."""
    result = json_schema.check(_reply("[1, 2]"), _expect(None))
    assert result is not None and result.passed


def test_formats_are_not_asserted() -> None:
    """The format checker is off: `format: email` is an annotation, as the spec's default."""
    result = json_schema.check(_reply('"not an email"'), _expect({"format": "email"}))
    assert result is not None and result.passed


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"city": "Paris",}', 1, 18),
        ('{\n  "city": \n}', 3, 1),
        ('Sure:\n\n```json\n{\n  "city": "Paris"\n  "tags": []\n}\n```', 6, 3),
    ],
)
def test_parse_error_position_is_reply_relative(text: str, line: int, column: int) -> None:
    """Parse errors give a message and the line and column in the reply, fences included."""
    result = json_schema.check(_reply(text), _expect())
    assert result is not None
    error = result.evidence["parse_error"]
    assert (error["line"], error["column"]) == (line, column)
    assert error["message"]


def test_schema_error_evidence() -> None:
    """Schema errors report the failing path, a truncated message and the error count."""
    text = '{"city": "' + "x" * 10 + '", "tags": ["' + "y" * 500 + '", 2]}'
    result = json_schema.check(_reply(text), _expect())
    assert result is not None
    error = result.evidence["schema_error"]
    assert error["path"] == "$.tags"
    assert len(error["message"]) == 200
    assert result.evidence["schema_error_count"] == 1


def test_validator_is_cached_per_schema() -> None:
    """Equal schemas, whatever their key order, share one compiled validator."""
    json_schema._validator.cache_clear()
    reordered = dict(reversed(list(SCHEMA.items())))
    for schema in (SCHEMA, reordered, SCHEMA):
        json_schema.check(_reply('{"city": 1}'), _expect(schema))
    info = json_schema._validator.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_deep_nesting_is_a_parse_failure() -> None:
    """JSON nested past the recursion limit is a failed check, not an exception."""
    result = json_schema.check(_reply("[" * 100_000 + "]" * 100_000), _expect())
    assert result is not None
    assert result.score == 0.0
