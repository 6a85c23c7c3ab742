"""A word-ish tokeniser with deterministic runner-up tokens and logprobs.

Real tokenisers (BPE) attach the preceding space to the next token (" Paris"); we do the same,
so truncating to `max_tokens` tokens and reporting per-token logprobs look like the real thing.
Every token has a fixed, plausible runner-up (a number's successor, another word with the same
capitalisation, another punctuation mark), so the dropped-top-token fault can say the runner-up
while the logprobs still show the original as top-1: exactly what that sampling bug looks like.
Everything here is a pure function of the token text, cached, because it runs per request.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

# Leading whitespace stays with the following word, number or punctuation mark; only trailing
# whitespace becomes a token of its own. Every character matches one branch, so joining the
# tokens always gives back the text.
_TOKEN = re.compile(r"\s*(?:[^\W\d_]+|\d+|[^\w\s]|_)|\s+")

# Runner-up words: common, plain ASCII, clearly not the word they replace.
_WORD_LIST = """
river garden window silver market planet bridge forest candle harbor pencil valley button
winter engine castle meadow rocket ladder island copper shadow signal pocket basket marble
thunder violet lantern compass orchard feather granite tunnel saddle harvest anchor cobalt
canyon timber
"""
WORDS = tuple(_WORD_LIST.split())
_PUNCT = (".", ",", ";", ":", "!", "?", "-", "(", ")", '"')
_SPACES = (" ", "\n", "\n\n", "\t")
_STOPWORD_LIST = """
a an and are as at be but by for from has have i in is it its of on or that the this to was
were will with you your
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())

CHOSEN_BASE_LOGPROB = -0.02
DROPPED_TOP_LOGPROB = -0.25  # the original top-1 token, when a fault sampled the runner-up
DROPPED_CHOSEN_LOGPROB = -1.9  # the runner-up that was emitted instead


@lru_cache(maxsize=8192)
def tokenize(text: str) -> tuple[str, ...]:
    """Split `text` into tokens whose concatenation is `text`."""
    return tuple(m.group(0) for m in _TOKEN.finditer(text))


def split_space(token: str) -> tuple[str, str]:
    """`" Paris"` -> `(" ", "Paris")`."""
    core = token.lstrip()
    return token[: len(token) - len(core)], core


def _hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _with_case(word: str, like: str) -> str:
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word


@lru_cache(maxsize=65536)
def alternative(token: str, rank: int) -> str:
    """The `rank`-th most likely other token in place of `token` (rank 1 is the runner-up).

    Deterministic and distinct for ranks 1..20: a number n gives n+rank, a word another word
    from a fixed list (capitalisation kept), punctuation another mark; leading space is kept.
    """
    space, core = split_space(token)
    if not core:
        pool = [s for s in _SPACES if s != token] + list(WORDS)
        return pool[(_hash(token) + rank - 1) % len(pool)]
    if core.isdecimal():
        return f"{space}{int(core) + rank:0{len(core)}d}"
    if core.isalpha():
        words = [w for w in WORDS if w != core.lower()]
        return space + _with_case(words[(_hash(core.lower()) + rank - 1) % len(words)], core)
    pool = [p for p in _PUNCT if p != core] + list(WORDS)
    return space + pool[(_hash(core) + rank - 1) % len(pool)]


def runner_up(token: str) -> str:
    return alternative(token, 1)


@lru_cache(maxsize=65536)
def chosen_logprob(token: str) -> float:
    """A confident logprob in [-0.039, -0.02], varying a little per token like real models."""
    return CHOSEN_BASE_LOGPROB - (_hash(token) % 20) / 1000


def alternative_logprob(rank: int) -> float:
    """Logprob of the `rank`-th alternative; decreasing, and the probabilities sum below 1."""
    return -5.0 - 1.25 * (rank - 1)


def is_content(token: str) -> bool:
    """A number or a word that carries meaning (not a stopword, not punctuation)."""
    core = split_space(token)[1]
    if core.isdecimal():
        return True
    return core.isalpha() and len(core) > 1 and core.lower() not in STOPWORDS


def top_alternatives(
    token: str, dropped_from: str | None, n: int
) -> tuple[float, list[tuple[str, float]]]:
    """The logprob of the emitted `token` and its `n` top alternatives, most likely first.

    When `dropped_from` is set the emitted token is the runner-up of `dropped_from`, which stays
    top-1 with the higher logprob.
    """
    if dropped_from is None:
        top = [(token, chosen_logprob(token))]
        top += [(alternative(token, k), alternative_logprob(k)) for k in range(1, n)]
        return chosen_logprob(token), top[:n]
    top = [(dropped_from, DROPPED_TOP_LOGPROB), (token, DROPPED_CHOSEN_LOGPROB)]
    top += [(alternative(dropped_from, k), alternative_logprob(k)) for k in range(2, n)]
    return DROPPED_CHOSEN_LOGPROB, top[:n]


def count_tokens(text: str) -> int:
    return len(tokenize(text))
