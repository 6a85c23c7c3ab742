"""finish_reason: the reply must stop for an allowed reason."""

from __future__ import annotations

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import finish_reason
from monitor.types import FinishReason, Reply


def _expect(*allowed: str) -> Expectation:
    return Expectation.model_validate({"finish_reason": list(allowed)})


@pytest.mark.parametrize(
    ("got", "allowed", "passed"),
    [
        (FinishReason.STOP, ("stop",), True),
        (FinishReason.LENGTH, ("stop",), False),
        (FinishReason.TOOL_CALLS, ("stop", "tool_calls"), True),
        (FinishReason.CONTENT_FILTER, ("stop", "length"), False),
        (FinishReason.STOP, (), False),
    ],
)
def test_allowed_reasons(got: FinishReason, allowed: tuple[str, ...], passed: bool) -> None:
    """A reason in the allowed list passes; any other, or an empty list, fails."""
    result = finish_reason.check(Reply(text="x", finish_reason=got), _expect(*allowed))
    assert result is not None
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0)
    assert result.evidence["got"] == got.value
    assert result.evidence["allowed"] == list(allowed)


def test_missing_reason_fails_with_raw() -> None:
    """A platform that reports no reason fails, and the raw value is kept as evidence."""
    reply = Reply(text="x", finish_reason=None, raw_finish_reason="weird_vendor_reason")
    result = finish_reason.check(reply, _expect("stop"))
    assert result is not None
    assert not result.passed
    assert result.evidence == {
        "got": None,
        "allowed": ["stop"],
        "raw": "weird_vendor_reason",
        "reason": "no finish reason",
    }


def test_none_without_expectation() -> None:
    """A probe that does not constrain the finish reason gets no check."""
    assert finish_reason.check(Reply(text="x", finish_reason=None), Expectation()) is None
