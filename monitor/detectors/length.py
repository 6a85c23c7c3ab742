"""`length`: a probe with a known answer size must not come back much shorter or longer.

Guards truncation from a misrouted long-context pool or a wrong max-tokens setting (replies cut
short), and runaway generation (a reply that no longer stops). Characters are counted on the
reply without surrounding whitespace; words are whitespace-separated runs.
"""

from __future__ import annotations

from typing import Any

from monitor.config.expectation import Expectation, LengthExpectation
from monitor.detectors.descriptor import Detector
from monitor.types import Check, Reply

NAME = "length"


def _ratio(actual: int, limit: int, is_min: bool) -> float:
    """How close a violated bound came, in [0, 1): actual/min below a floor, max/actual above."""
    if is_min:
        return actual / limit  # limit > actual >= 0, so limit > 0
    return limit / actual  # actual > limit >= 1


def _violations(bounds: LengthExpectation, chars: int, words: int) -> list[dict[str, Any]]:
    """Every violated bound, in a fixed order, with its limit, the actual count and a ratio."""
    found: list[dict[str, Any]] = []
    for bound, actual in (
        ("min_chars", chars),
        ("max_chars", chars),
        ("min_words", words),
        ("max_words", words),
    ):
        limit: int | None = getattr(bounds, bound)
        if limit is None:
            continue
        is_min = bound.startswith("min")
        if (is_min and actual < limit) or (not is_min and actual > limit):
            found.append(
                {
                    "bound": bound,
                    "limit": limit,
                    "actual": actual,
                    "ratio": _ratio(actual, limit, is_min),
                }
            )
    return found


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge the reply against `expect.length`; None when no bound is set.

    Score 1.0 within every bound, else the smallest ratio of actual to violated bound (so half
    the minimum length scores 0.5, twice the maximum 0.5): a smooth signal for drift on means.
    """
    bounds = expect.length
    if bounds is None or all(
        getattr(bounds, b) is None for b in ("min_chars", "max_chars", "min_words", "max_words")
    ):
        return None
    text = reply.text.strip()
    chars, words = len(text), len(text.split())
    violated = _violations(bounds, chars, words)
    evidence: dict[str, Any] = {"chars": chars, "words": words, "violated": violated}
    if not violated:
        return Check(detector=NAME, passed=True, score=1.0, evidence=evidence)
    score = min(v["ratio"] for v in violated)
    return Check(detector=NAME, passed=False, score=score, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="truncation",
    applies=lambda expect: expect.length is not None,
    reasons=("min_chars", "max_chars", "min_words", "max_words"),
    check=check,
)
