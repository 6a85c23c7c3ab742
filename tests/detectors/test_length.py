"""length: reply size within bounds, with a smooth score when it is not."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import length
from monitor.types import FinishReason, Reply


def _check(text: str, **bounds: Any) -> Any:
    reply = Reply(text=text, finish_reason=FinishReason.STOP)
    return length.check(reply, Expectation.model_validate({"length": bounds}))


@pytest.mark.parametrize(
    ("bounds", "text", "score", "violated"),
    [
        ({"min_chars": 5, "max_chars": 10}, "abcdefg", 1.0, []),
        ({"min_chars": 5}, "  abcde  ", 1.0, []),
        ({"min_chars": 10}, "abcde", 0.5, ["min_chars"]),
        ({"min_chars": 10}, "", 0.0, ["min_chars"]),
        ({"max_chars": 5}, "abcdefghij", 0.5, ["max_chars"]),
        ({"min_words": 4}, "one two", 0.5, ["min_words"]),
        ({"max_words": 2}, "one two three four", 0.5, ["max_words"]),
        ({"max_chars": 8, "max_words": 1}, "one two three four", 0.25, ["max_chars", "max_words"]),
        ({"min_words": 0, "max_words": 1}, "", 1.0, []),
    ],
)
def test_bounds(bounds: dict[str, int], text: str, score: float, violated: list[str]) -> None:
    """Within bounds scores 1.0; otherwise the worst actual/bound ratio, each violation listed."""
    result = _check(text, **bounds)
    assert result is not None
    assert (result.passed, result.score) == (not violated, pytest.approx(score))
    assert [v["bound"] for v in result.evidence["violated"]] == violated


def test_evidence_counts_and_limits() -> None:
    """Evidence gives the character and word counts and each violated limit."""
    result = _check("one two three", max_words=2)
    assert result is not None
    assert (result.evidence["chars"], result.evidence["words"]) == (13, 3)
    assert result.evidence["violated"][0] == {
        "bound": "max_words",
        "limit": 2,
        "actual": 3,
        "ratio": pytest.approx(2 / 3),
    }


@pytest.mark.parametrize("expect", [{}, {"length": {}}])
def test_none_without_bounds(expect: dict[str, Any]) -> None:
    """No length expectation, or one with no bound set, gives no check."""
    reply = Reply(text="anything", finish_reason=None)
    assert length.check(reply, Expectation.model_validate(expect)) is None
