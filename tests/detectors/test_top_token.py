"""`top_token`: greedy replies choose the top-1 token; the first token starts the answer."""

from __future__ import annotations

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import top_token
from monitor.types import FinishReason, Reply, TokenLogprob

PARIS = TokenLogprob(" Paris", -0.02, ((" Paris", -0.02), (" Lyon", -4.1), (" Marseille", -5.0)))
DOT = TokenLogprob(".", -0.01, ((".", -0.01), ("!", -5.0)))
DROPPED = TokenLogprob(" Lyon", -4.1, ((" Paris", -0.02), (" Lyon", -4.1)))


def reply(*tokens: TokenLogprob) -> Reply:
    return Reply(text="".join(t.token for t in tokens), finish_reason=FinishReason.STOP, logprobs=tokens)


def expect(**spec: object) -> Expectation:
    return Expectation.model_validate({"top_token": spec})


@pytest.mark.parametrize(
    ("tokens", "spec", "passed"),
    [
        ((PARIS, DOT), {}, True),
        ((DROPPED, DOT), {}, False),
        ((PARIS, DOT), {"token": "Paris"}, True),
        ((TokenLogprob(" Pa", -0.1, ((" Pa", -0.1),)), DOT), {"token": "Paris"}, True),
        ((DROPPED, DOT), {"greedy": False, "token": "Paris"}, False),
        ((PARIS, DOT), {"min_logprob": -0.5}, True),
        ((TokenLogprob(" Paris", -0.9, ((" Paris", -0.9), (" Lyon", -1.0))),), {"min_logprob": -0.5}, False),
        ((TokenLogprob(" Paris", -1.0, ((" Lyon", -1.0005), (" Paris", -1.0))),), {}, True),
    ],
    ids=["greedy-ok", "dropped-top", "token-ok", "token-prefix", "token-wrong", "band-ok", "band-low", "tie"],
)
def test_verdicts(tokens: tuple[TokenLogprob, ...], spec: dict[str, object], passed: bool) -> None:
    """Each logprob pattern gets the verdict a dropped-top-token bug would predict."""
    result = top_token.check(reply(*tokens), expect(**spec))
    assert result is not None and result.passed is passed and result.score == (1.0 if passed else 0.0)


def test_dropped_token_evidence_names_runner_up_and_top1() -> None:
    """The evidence shows the chosen runner-up, the top-1 it displaced, and where."""
    result = top_token.check(reply(DROPPED, DOT), expect(token="Paris"))
    assert result is not None
    violation = result.evidence["greedy_violation"]
    assert (violation["position"], violation["chosen"], violation["top1"]) == (0, " Lyon", " Paris")
    assert result.evidence["first_token"]["runner_up"] == [" Paris", -0.02]


@pytest.mark.parametrize("logprobs", [None, ()])
def test_no_logprobs_no_check(logprobs: tuple[TokenLogprob, ...] | None) -> None:
    """A platform that returns no logprobs gets no check rather than a pass."""
    assert top_token.check(Reply(text="Paris", finish_reason=None, logprobs=logprobs), expect()) is None


def test_unset_expectation_no_check() -> None:
    """Without a top_token expectation the detector has nothing to judge."""
    assert top_token.check(reply(PARIS), Expectation()) is None
