"""The simulator's tokeniser, runner-up tokens and logprobs."""

from __future__ import annotations

import math

import pytest

from canary_sim.tokens import (
    DROPPED_CHOSEN_LOGPROB,
    alternative,
    is_content,
    runner_up,
    tokenize,
    top_alternatives,
)

TEXTS = [
    "Paris",
    "The capital of France is Paris.\n",
    "```python\ndef add(a, b):\n    return a + b\n```\n\n",
    "สวัสดี world 中文 snake_case 3.14 — “quoted”  ",
    "",
    "   ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokens_join_back_to_the_text(text: str) -> None:
    """Tokenisation loses nothing: the tokens concatenate to the original text."""
    assert "".join(tokenize(text)) == text


def test_leading_space_belongs_to_the_next_token() -> None:
    """Like BPE, a word carries the space before it; only trailing whitespace stands alone."""
    assert tokenize("The capital is Paris.\n") == ("The", " capital", " is", " Paris", ".", "\n")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("391", "392"),
        (" 07", " 08"),
        (" 9", " 10"),
    ],
)
def test_number_runner_up_is_its_successor(token: str, expected: str) -> None:
    """A number's runner-up is n+1, keeping leading space and zero padding."""
    assert runner_up(token) == expected


@pytest.mark.parametrize("token", [" Paris", "paris", "PARIS", " the", "Paris"])
def test_word_runner_up_keeps_capitalisation(token: str) -> None:
    """A word's runner-up is another word, deterministic, with the same case pattern."""
    alt = runner_up(token)
    assert alt == runner_up(token)
    assert alt.strip().lower() != token.strip().lower()
    assert alt.startswith(" ") == token.startswith(" ")
    core, alt_core = token.strip(), alt.strip()
    if core.isupper():
        assert alt_core.isupper()
    elif core[0].isupper():
        assert alt_core[0].isupper() and alt_core[1:].islower()
    else:
        assert alt_core.islower()


@pytest.mark.parametrize("token", ["391", " Paris", ".", "\n", " (", "สวัสดี"])
def test_alternatives_are_distinct_for_twenty_ranks(token: str) -> None:
    """Top-20 lists never repeat a token, whatever its class."""
    alts = [token] + [alternative(token, k) for k in range(1, 20)]
    assert len(set(alts)) == 20


def test_logprobs_of_a_healthy_token() -> None:
    """The emitted token is top-1, confident, and the list is sorted and a sub-distribution."""
    logprob, top = top_alternatives(" Paris", None, 5)
    assert top[0] == (" Paris", logprob)
    assert -0.05 < logprob < 0
    assert [lp for _, lp in top] == sorted((lp for _, lp in top), reverse=True)
    assert sum(math.exp(lp) for _, lp in top) <= 1
    assert top[1][0] == runner_up(" Paris")


def test_logprobs_of_a_dropped_top_token() -> None:
    """After a dropped top token the emitted runner-up is second, the original stays top-1."""
    logprob, top = top_alternatives("392", "391", 3)
    assert logprob == DROPPED_CHOSEN_LOGPROB
    assert [t for t, _ in top] == ["391", "392", alternative("391", 2)]
    assert top[0][1] > top[1][1] == logprob
    assert sum(math.exp(lp) for _, lp in top) <= 1


def test_zero_top_logprobs_gives_an_empty_list() -> None:
    """`top_logprobs: 0` asks for logprobs of the emitted token only."""
    assert top_alternatives("x", None, 0)[1] == []


@pytest.mark.parametrize(
    ("token", "content"),
    [("391", True), (" Paris", True), (" the", False), ("The", False), (".", False), (" a", False)],
)
def test_content_tokens(token: str, content: bool) -> None:
    """Numbers and meaningful words are content; stopwords and punctuation are not."""
    assert is_content(token) is content
