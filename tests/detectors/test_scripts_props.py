"""Properties of unexpected_script and suspicious_format over generated text (Hypothesis)."""

from __future__ import annotations

import unicodedata

import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.config.expectation import Expectation
from monitor.detectors import format_chars, scripts
from monitor.detectors.scripts_sets import script_of
from monitor.types import Reply
from tests.strategies import (
    FOREIGN_SCRIPTS,
    SCRIPT_SETS,
    allowed_texts,
    prose_texts,
    script_chars,
)


def _check(text: str, allowed: tuple[str, ...]) -> bool:
    result = scripts.check(Reply(text=text, finish_reason=None), Expectation(scripts=list(allowed)))
    assert result is not None
    return result.passed


@settings(max_examples=300)
@given(st.sampled_from(SCRIPT_SETS).flatmap(lambda s: st.tuples(st.just(s), allowed_texts(s))))
def test_a_reply_in_the_allowed_scripts_never_fails(case: tuple[tuple[str, ...], str]) -> None:
    """Any text of the allowed scripts, Common and Inherited passes (one script per word
    where Latin shares the set with Greek or Cyrillic)."""
    allowed, text = case
    assert _check(text, allowed)


@st.composite
def _insertions(draw: st.DrawFn) -> tuple[tuple[str, ...], str, str, int]:
    allowed = draw(st.sampled_from(SCRIPT_SETS))
    script = draw(st.sampled_from([s for s in FOREIGN_SCRIPTS if s not in allowed]))
    letter = draw(st.sampled_from(script_chars(script, letters_only=True)))
    # A letter whose compatibility form is allowed (ｶ is カ) is that letter, not a stray; a
    # Cyrillic modifier letter (ᵸ, ꚜ) is a phonetic superscript, like ᵝ.
    normal = unicodedata.normalize("NFKC", letter)
    assume(any(script_of(c) not in {*allowed, "Common", "Inherited"} for c in normal))
    assume(not (script == "Cyrillic" and regex.match(r"\p{Lm}", letter)))
    text = draw(prose_texts(allowed))
    return allowed, text, letter, draw(st.integers(0, len(text)))


@settings(max_examples=300)
@given(_insertions())
def test_inserting_a_letter_of_a_disallowed_script_always_fails(
    case: tuple[tuple[str, ...], str, str, int],
) -> None:
    """One letter of any other script, anywhere in prose of the allowed scripts, fails."""
    allowed, text, letter, at = case
    assert not _check(text[:at] + letter + text[at:], allowed)


@st.composite
def _greek_in_words(draw: st.DrawFn) -> tuple[tuple[str, ...], str]:
    allowed = draw(st.sampled_from([s for s in SCRIPT_SETS if "Greek" not in s and "Latin" in s]))
    word = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12))
    greek = draw(st.sampled_from(script_chars("Greek", letters_only=True)))
    assume(not regex.match(r"\p{Lm}", greek))  # ᵝ is a superscript symbol by construction
    at = draw(st.integers(1, len(word) - 1))
    before, after = draw(prose_texts(allowed)), draw(prose_texts(allowed))
    return allowed, f"{before} {word[:at]}{greek}{word[at:]} {after}"


@settings(max_examples=200)
@given(_greek_in_words())
def test_a_greek_letter_inside_a_latin_word_always_fails(case: tuple[tuple[str, ...], str]) -> None:
    """Greek letters may stand as symbols (α = 0.05), never inside a word: that is a homoglyph."""
    allowed, text = case
    assert not _check(text, allowed)


_any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


@settings(max_examples=300)
@given(_any_text, st.sampled_from([["Latin"], ["Han", "Latin"], ["Thai"], ["Common"]]))
def test_never_raises_and_is_deterministic(text: str, allowed: list[str]) -> None:
    """On any string, surrogates and unassigned code points included, both checks return a
    well-formed verdict, the same one twice."""
    reply = Reply(text=text, finish_reason=None)
    expect = Expectation(scripts=allowed)
    for check in (scripts.check, format_chars.check):
        first = check(reply, expect)
        assert first is not None and first == check(reply, expect)
        assert first.passed == (first.score == 1.0)
