"""known_answer: strict but fair matching of greedy known answers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from monitor.config.expectation import Expectation
from monitor.detectors import known_answer
from monitor.types import FinishReason, Reply
from tests.strategies import reply_texts


def _reply(text: str) -> Reply:
    return Reply(text=text, finish_reason=FinishReason.STOP)


def _expect(**answer: Any) -> Expectation:
    return Expectation.model_validate({"answer": answer})


@pytest.mark.parametrize(
    ("answer", "text", "passed"),
    [
        ({"exact": "Paris"}, "Paris", True),
        ({"exact": "Paris"}, "Paris.", True),
        ({"exact": "Paris"}, "**Paris**", True),
        ({"exact": "Paris"}, "  **Paris**.\n", True),
        ({"exact": "Paris"}, '"Paris"', True),
        ({"exact": "Paris"}, "“Paris.”", True),
        ({"exact": "Paris"}, "paris", True),
        ({"exact": "Paris"}, "Let me think.\n\n**Paris**", True),
        ({"exact": "Paris"}, "The capital of France is Paris.", False),
        ({"exact": "Paris"}, "Lyon", False),
        ({"exact": "Paris"}, "Paris...", False),
        ({"exact": "Paris"}, "", False),
        ({"exact": "Paris", "case_sensitive": True}, "paris", False),
        ({"exact": "Paris", "case_sensitive": True}, "Paris", True),
        ({"exact": "New York"}, "New   York", True),
        ({"one_of": ["4", "four"]}, "Four.", True),
        ({"one_of": ["4", "four"]}, "2 + 2 is 4", False),
        ({"one_of": ["4", "four"]}, "5", False),
        ({"contains": "Paris"}, "The capital of France is Paris.", True),
        ({"contains": "Paris"}, "The capital of France is Lyon.", False),
        ({"contains": "paris", "case_sensitive": True}, "Paris", False),
        ({"regex": r"\bParis\b"}, "The capital of France is Paris.", True),
        ({"regex": r"\bParis\b"}, "Parisian", False),
        ({"regex": r"^\d+$"}, "Working:\n6 * 7\n42", True),
        ({"regex": r"^\d+$"}, "forty-two", False),
    ],
)
def test_matching(answer: dict[str, Any], text: str, passed: bool) -> None:
    """Each answer form accepts formatting noise but not a different or buried answer."""
    result = known_answer.check(_reply(text), _expect(**answer))
    assert result is not None
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0)
    assert result.detector == "known_answer"


def test_none_without_answer() -> None:
    """A probe that expects no known answer gets no check, not a pass."""
    assert known_answer.check(_reply("Paris"), Expectation()) is None


def test_evidence_names_form_and_truncated_answer() -> None:
    """Evidence carries the expected form and at most 200 characters of the normalised answer."""
    result = known_answer.check(_reply("**" + "x" * 500 + "**"), _expect(exact="Paris"))
    assert result is not None
    assert result.evidence["expected"] == {"exact": "Paris"}
    assert result.evidence["answer"] == "x" * 200
    assert result.evidence["matched_on"] is None


@pytest.mark.parametrize(
    ("text", "where"), [("Paris", "whole"), ("Hmm.\nIt is:\nParis", "final_line")]
)
def test_evidence_says_where_it_matched(text: str, where: str) -> None:
    """Evidence tells whether the whole reply or only its final line matched."""
    result = known_answer.check(_reply(text), _expect(exact="Paris"))
    assert result is not None
    assert result.evidence["matched_on"] == where


def test_pathological_regex_times_out_as_failure() -> None:
    """A catastrophically backtracking pattern fails the check instead of hanging the run."""
    result = known_answer.check(_reply("a" * 40 + "b"), _expect(regex=r"^(a|a)*$"))
    assert result is not None
    assert not result.passed
    assert "timed out" in result.evidence["error"]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Paris  ", "Paris"),
        ("**Paris.**", "Paris"),
        ("_*Paris*_.", "Paris"),
        ("Paris...", "Paris..."),
        ("**", "**"),
        ("a\tb  c", "a b c"),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    """Normalisation peels wrappers and one full stop to a fixed point, keeping ellipses."""
    assert known_answer.normalise(raw) == normalised


@given(reply_texts())
def test_normalise_is_idempotent(text: str) -> None:
    """Normalising twice changes nothing: the fixed point is really fixed."""
    once = known_answer.normalise(text)
    assert known_answer.normalise(once) == once
