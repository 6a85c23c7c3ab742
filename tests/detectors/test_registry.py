"""The detector registry: stable names, subsets, containment of a raising detector."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from monitor import detectors
from monitor.config.expectation import Expectation
from monitor.detectors import DETECTORS, run_detectors, select
from monitor.types import Check, FinishReason, Reply
from tests.strategies import expectations, replies

EVERYTHING = Expectation.model_validate(
    {
        "answer": {"exact": "Paris"},
        "json": {},
        "length": {"max_words": 5},
        "finish_reason": ["stop"],
    }
)


EVERYTHING_NAMES = {"known_answer", "json_schema", "length", "finish_reason"}


@pytest.fixture
def paris() -> Reply:
    return Reply(text="Paris", finish_reason=FinishReason.STOP)


def test_names_are_stable() -> None:
    """Names are metric labels and CLI arguments: these must stay, in this relative order."""
    assert [
        n for n in DETECTORS if n in {"known_answer", "json_schema", "length", "finish_reason"}
    ] == [
        "known_answer",
        "json_schema",
        "length",
        "finish_reason",
    ]


def test_runs_every_detector_in_order(paris: Reply) -> None:
    """With these four expectations set, each of their detectors gives one check, in registry
    order, and no other detector reports (they have nothing to judge)."""
    checks = run_detectors(paris, EVERYTHING)
    assert [c.detector for c in checks] == [n for n in DETECTORS if n in EVERYTHING_NAMES]
    by_name = {c.detector: c.passed for c in checks}
    assert by_name == {
        "known_answer": True,
        "json_schema": False,
        "length": True,
        "finish_reason": True,
    }


def test_unset_expectations_give_no_checks(paris: Reply) -> None:
    """Detectors with nothing to judge are left out rather than counted as passes."""
    assert run_detectors(paris, Expectation()) == ()
    only_length = Expectation.model_validate({"length": {"min_chars": 1}})
    assert [c.detector for c in run_detectors(paris, only_length)] == ["length"]


@pytest.mark.parametrize(
    ("only", "names"),
    [
        (["finish_reason", "known_answer"], ["known_answer", "finish_reason"]),
        ({"length"}, ["length"]),
        ([], []),
    ],
)
def test_only_restricts_in_registry_order(paris: Reply, only: list[str], names: list[str]) -> None:
    """`only` picks a subset and keeps the registry order, whatever order it was given in."""
    assert [c.detector for c in run_detectors(paris, EVERYTHING, only)] == names


def test_unknown_name_is_an_error(paris: Reply) -> None:
    """A misspelt detector name fails loudly and lists the known names."""
    with pytest.raises(ValueError, match=r"unknown detector\(s\) lenght; known: .*length"):
        run_detectors(paris, EVERYTHING, ["lenght"])
    with pytest.raises(ValueError, match="lenght"):
        select(["length", "lenght"])


def test_raising_detector_is_contained(paris: Reply, monkeypatch: pytest.MonkeyPatch) -> None:
    """A detector that raises becomes a failed check naming the exception type only."""

    def broken(reply: Reply, expect: Expectation) -> Check | None:
        raise KeyError("secret reply text")

    monkeypatch.setitem(detectors.DETECTORS, "length", broken)
    checks = run_detectors(paris, EVERYTHING)
    failed = [c for c in checks if c.detector == "length"]
    assert failed == [
        Check(
            detector="length",
            passed=False,
            score=0.0,
            evidence={"error": "detector raised KeyError"},
        )
    ]
    assert [c.detector for c in checks] == [n for n in DETECTORS if n in EVERYTHING_NAMES]


@given(replies(), expectations())
def test_detectors_never_raise_and_are_deterministic(reply: Reply, expect: Expectation) -> None:
    """On arbitrary replies every detector returns the same well-formed verdict twice."""
    for name, detector in DETECTORS.items():
        first = detector(reply, expect)
        assert first == detector(reply, expect)
        if first is None:
            continue
        assert first.detector == name
        assert 0.0 <= first.score <= 1.0
        assert first.passed == (first.score == 1.0)
        json.dumps(first.to_dict(), allow_nan=False)  # evidence must survive JSONL and the store
