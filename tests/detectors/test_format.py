"""suspicious_format: invisible characters outside the places writing systems need them."""

from __future__ import annotations

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import format_chars
from monitor.types import Check, Reply


def judge(text: str, language: str = "en") -> Check:
    result = format_chars.check(
        Reply(text=text, finish_reason=None), Expectation(language=language)
    )
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Family 👨‍👩‍👧, coder 🧑🏿‍💻, rainbow 🏳️‍🌈", "en"),
        ("Scotland 🏴󠁧󠁢󠁳󠁣󠁴󠁿 and Wales 🏴󠁧󠁢󠁷󠁬󠁳󠁿", "en"),
        ("Red heart ❤️, keycap 1️⃣, text style ☺︎", "en"),
        ("می\u200cخواهم", "fa"),
        ("ශ්\u200dරී ලංකා", "si"),
        ("ឆ្លើយតប\u200bសតិ\u200b\u200bអស់", "km"),
        ("مرحبا \u200fبالعالم\u200e ok", "ar"),
        ("\ufeffA byte order mark at the start", "en"),
        ("Hyphen\u00adation hints are visible at a break", "en"),
        ("Plain ASCII text", "en"),
    ],
)
def test_legitimate_uses_pass(text: str, language: str) -> None:
    """Joiners in emoji and joining scripts, tag flags, one variation selector after an emoji,
    word breaks in Khmer, bidi marks in right-to-left prose, a BOM at 0 and soft hyphens pass."""
    result = judge(text, language)
    assert result.passed, result.evidence


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("zero\u200bwidth space in English", "zero_width"),
        ("join\u200dme", "zero_width"),
        ("word\u2060joiner", "zero_width"),
        ("mid-text \ufeff BOM", "zero_width"),
        ("access = 'user\u202e \u2066// admin\u2069 \u2066'", "bidi"),
        ("English with an \u200fRLM", "bidi"),
        ("```\nx = 1 \u200e# mark in code\n```", "bidi"),
        ("smuggled" + "".join(chr(0xE0000 + ord(c)) for c in "hi there"), "tag"),
        ("emoji 😊" + "".join(chr(0xE0100 + i) for i in range(8)), "variation_selector"),
        ("a\ufe0f letter with a selector", "variation_selector"),
    ],
)
def test_suspicious_uses_fail(text: str, kind: str) -> None:
    """Zero-widths in Latin text, bidi overrides and isolates, stray marks, hidden tag text
    and runs of variation selectors fail, naming the kind."""
    result = judge(text)
    assert not result.passed
    assert result.evidence["runs"][0]["kind"] == kind
    assert result.evidence["severity"] == "warning"


def test_evidence() -> None:
    """A run gives its offset, line and column, place, code points, names and a snippet."""
    result = judge("Say\u200bhi")
    assert result.evidence["runs"] == [
        {
            "kind": "zero_width",
            "offset": 3,
            "length": 1,
            "line": 1,
            "column": 4,
            "where": "prose",
            "codepoints": ["U+200B"],
            "names": ["ZERO WIDTH SPACE"],
            "snippet": "Say⟦\\u200b⟧hi",
        }
    ]
    assert result.evidence["counts"] == {"zero_width": 1}


def test_none_without_scripts_or_language() -> None:
    """Gated like unexpected_script: no declared scripts, no check."""
    assert format_chars.check(Reply(text="a\u200bb", finish_reason=None), Expectation()) is None
