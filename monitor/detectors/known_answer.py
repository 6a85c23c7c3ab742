"""`known_answer`: a greedy probe with one right answer must still give it.

Guards the sampling-miscompile incident class: an approximate top-k that sometimes dropped the
most likely token (only at some batch sizes) changed greedy known answers, so "Paris" became
"Lyon" on one request and not the next. The match is strict but fair: formatting noise a model
legitimately varies (surrounding whitespace, quotes, Markdown emphasis, a trailing full stop,
case by default) is ignored; a different answer, or the right word buried in a sentence when an
`exact` answer was asked for, is not.
"""

from __future__ import annotations

from typing import Any

import regex

from monitor.config.expectation import Expectation, KnownAnswer
from monitor.detectors.descriptor import Detector
from monitor.types import Check, Reply

NAME = "known_answer"

#: A pathological user pattern must not hang a probe run; a timeout is a failed check.
REGEX_TIMEOUT_S = 0.25
#: Evidence keeps only the head of the answer: the store has the whole transcript.
EVIDENCE_CHARS = 200

_WRAPPERS = (
    ("**", "**"),
    ("__", "__"),
    ("*", "*"),
    ("_", "_"),
    ("`", "`"),
    ('"', '"'),
    ("'", "'"),
    ("\u201c", "\u201d"),  # “ ”
    ("\u2018", "\u2019"),  # ‘ ’
    ("\u00ab", "\u00bb"),  # « »
)
_SPACES = regex.compile(r"[^\S\n]+")


def normalise(text: str) -> str:
    """Strip whitespace, wrapping quotes or emphasis and one trailing full stop, to a fixed point.

    Runs of spaces and tabs collapse to one space (newlines are kept), so "**Paris**.",
    "Paris." and ' "Paris" ' all become "Paris". An ellipsis is content, not a full stop.
    """
    text = _SPACES.sub(" ", text)
    while True:
        before = text
        text = text.strip()
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1]
        for left, right in _WRAPPERS:
            if (
                len(text) > len(left) + len(right)
                and text.startswith(left)
                and text.endswith(right)
            ):
                text = text[len(left) : -len(right)]
                break
        if text == before:
            return text


def _final_line(text: str) -> str:
    """The last non-blank line: where a model that shows its working puts the answer."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _candidates(reply_text: str) -> dict[str, str]:
    """The normalised whole reply and its normalised final line, by where they came from."""
    return {"whole": normalise(reply_text), "final_line": normalise(_final_line(reply_text))}


def _expected_form(answer: KnownAnswer) -> dict[str, Any]:
    for key in ("exact", "regex", "one_of", "contains"):
        value = getattr(answer, key)
        if value is not None:
            return {key: value}
    return {}  # unreachable: KnownAnswer validates exactly one


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def match_answer(answer: KnownAnswer, reply_text: str) -> tuple[str | None, str | None]:
    """Return (where it matched or None, an error message or None)."""
    cs = answer.case_sensitive
    candidates = _candidates(reply_text)
    if answer.regex is not None:
        flags = 0 if cs else regex.IGNORECASE
        for where, text in candidates.items():
            try:
                if regex.search(answer.regex, text, flags, timeout=REGEX_TIMEOUT_S):
                    return where, None
            except TimeoutError:
                return None, f"regex timed out after {REGEX_TIMEOUT_S} s"
        return None, None
    if answer.contains is not None:
        needle = _fold(normalise(answer.contains), cs)
        return ("whole", None) if needle in _fold(candidates["whole"], cs) else (None, None)
    wanted = [answer.exact] if answer.exact is not None else list(answer.one_of or [])
    wanted_folded = {_fold(normalise(w), cs) for w in wanted}
    for where, text in candidates.items():
        if _fold(text, cs) in wanted_folded:
            return where, None
    return None, None


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge the reply against `expect.answer`; None when no answer is expected.

    `exact` and `one_of` accept the normalised whole reply or its final line; `contains` is a
    substring of the normalised reply; `regex` is searched (not fully matched) in either.
    """
    answer = expect.answer
    if answer is None:
        return None
    where, error = match_answer(answer, reply.text)
    evidence: dict[str, Any] = {
        "expected": _expected_form(answer),
        "case_sensitive": answer.case_sensitive,
        "answer": normalise(reply.text)[:EVIDENCE_CHARS],
        "matched_on": where,
    }
    if error is not None:
        evidence["error"] = error
    passed = where is not None
    return Check(detector=NAME, passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="sampling miscompile",
    applies=lambda expect: expect.answer is not None,
    reasons=("wrong_answer",),
    check=check,
)
