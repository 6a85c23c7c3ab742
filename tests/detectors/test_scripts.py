"""unexpected_script: one stray Thai or Han character fails; an em dash, emoji or α never does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import scripts
from monitor.detectors.scripts_sets import (
    LANGUAGE_SCRIPTS,
    SCRIPT_LABELS,
    SCRIPT_NAMES,
    all_code_points,
    canonical_scripts,
    language_scripts,
    script_label,
    script_of,
)
from monitor.types import Check, Reply

EN = {"language": "en"}


def judge(text: str, expect: dict[str, Any] | None = None) -> Check:
    result = scripts.check(
        Reply(text=text, finish_reason=None), Expectation.model_validate(expect or EN)
    )
    assert result is not None
    return result


CLEAN = [
    ("typography", "He said “it’s fine” — really… costs 5–10 € with NBSP\u00a0here; § 2 † ‡"),
    ("greek math", "Use α = 0.05 and β = 0.2; σ² is known, μ ± σ, 2πr, e^(iθ), ∂f/∂x, Δt → 0."),
    ("greek science", "NF-κB, TNF-α, IL-1β, IFN-γ, PPARγ, ERα, Aβ, ΔG, hν, ΛCDM, β-lactamase, ΔpH."),
    ("units", "It takes 5 μs, a 10 kΩ resistor, 3 µm, 20 °C (68 ℉), 1.5 Å, 3‰, 12 MΩ."),
    ("math symbols", "∀x ∈ ℝ: x² ≥ 0; ∑ᵢ xᵢ; ∇f; ∫ f dx; ℕ ⊂ ℤ ⊂ ℚ; ℵ₀; A ⊆ B ⇒ B ⊇ A."),
    ("currency", "Prices: $5, €4, £3, ¥100, ₹80, ₩900, ₿0.1, ฿20, ₪7, ₽50, ₫1000."),
    ("emoji", "Done! 🎉 👨‍👩‍👧‍👦 👍🏽 🧑🏿‍💻 🇫🇷 🇯🇵 🏴󠁧󠁢󠁳󠁣󠁴󠁿 1️⃣ ❤️ ✨"),
    ("box drawing", "```\nproject/\n├── src/\n│   └── main.py\n└── README.md\n```\nA → B ⇒ C ↔ D"),
    ("ipa", "Pronounced /θɪŋk/, [ˈbɑːθ], /ðə/ or /ˈwɛðər/; θri in a bare transcription."),
    ("ligatures", "The ﬁrst ﬂoor oﬃce; æsthetic œuvre; Ĳssel."),
    ("fullwidth and math", "ＡＢＣ１２３ and 𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 𝔉𝔯𝔞𝔨 𝕕𝕠𝕦𝕓𝕝𝕖 𝛼𝛽."),
    ("nfd", "Cafe\u0301, nai\u0308ve, Tie\u0302\u0301ng Vie\u0323\u0302t, x\u0304 and y\u0302."),
    ("accented names", "Dvořák met Łukasz Wójcik and Søren Kierkegaard in Đà Nẵng; Ærøskøbing."),
    ("latin foreign", "Der schnelle braune Fuchs springt über den faulen Hund. Ça va très bien."),
    ("kaomoji", "Sure ¯\\_(ツ)_/¯ then ಠ_ಠ, (ง'̀-'́)ง, (╯°□°)╯︵ ┻━┻, ლ(ಠ益ಠლ) and (;д;)."),
    ("checkmarks", "- ✓ tests pass\n- ✗ lint fails\n- ☐ todo ☑ done ★ ☆ ➜ ❯"),
    ("code escapes", '```python\nlabel = "caf\\u00e9 \\U0001f600"\nRED = "\\x1b[31m"\n```'),
    ("code with symbols", "```python\n# latency in μs, α is the rate\nα = 0.5\nx = α * 2\n```"),
    ("zero width is not corruption", "zero\u200bwidth, join\u200dme, \u200eLRM and a BOM\ufeff"),
    ("superscripts", "x², 10⁻³, H₂O, CO₂, xᵢ, Aᵀ, nᵗʰ, fᵝ"),
    ("form feed and tabs", "col1\tcol2\r\nnext page\x0cafter"),
    ("private use", "Powerline glyph \ue0b0 in a prompt"),
]


@pytest.mark.parametrize(("name", "text"), CLEAN, ids=[c[0] for c in CLEAN])
def test_rich_unicode_passes(name: str, text: str) -> None:
    """Every hard-negative class of the issue passes an English (Latin) expectation."""
    result = judge(text)
    assert result.passed, result.evidence["runs"]
    assert result.score == 1.0


DECLARED = [
    ("ja", "これは日本語の文章です。カタカナとひらがな、漢字、そして English も使えます。"),
    ("zh-TW", "這是一個測試，ㄅㄆㄇ注音也可以。"),
    ("ko", "한국어 문장입니다. 漢字도 가끔 씁니다."),
    ("ru", "Это русский текст с English словами и ёлкой."),
    ("th", "นี่คือข้อความภาษาไทย with Latin"),
    ("el", "Αυτό είναι ελληνικό κείμενο."),
    ("ar", "هذا نص عربي مع \u200fعلامة."),
    ("he", "זהו טקסט בעברית."),
    ("hi", "यह हिंदी का वाक्य है।"),
    ("sr-Latn", "Ovo je srpski tekst latinicom."),
    ("fa", "این یک متن فارسی است و می\u200cخواهم."),
]


@pytest.mark.parametrize(("language", "text"), DECLARED, ids=[d[0] for d in DECLARED])
def test_text_in_the_declared_script_passes(language: str, text: str) -> None:
    """A reply in its language's default scripts (BCP 47 tag) passes."""
    result = judge(text, {"language": language})
    assert result.passed, result.evidence["runs"]


CORRUPT = [
    ("one thai letter", "The answer is ก here.", "Thai", "letters"),
    ("glued han", "The function returns数据 immediately.", "Han", "letters"),
    ("thai inside a word", "It was exeกcuted.", "Thai", "letters"),
    ("cyrillic homoglyph", "It was exеcuted.", "Cyrillic", "homoglyph"),
    ("greek homoglyph", "The οperation failed.", "Greek", "homoglyph"),
    ("greek inside a word", "The valαue is wrong.", "Greek", "homoglyph"),
    ("whole greek word", "We then και proceed.", "Greek", "letters"),
    ("greek glued to a capitalised word", "No exclusions. σIf omitted, none apply.", "Greek", "homoglyph"),
    ("hangul word", "Call the 함수 twice.", "Hangul", "letters"),
    ("arabic in code", '```python\nname = "userفي"\n```', "Arabic", "letters"),
    ("devanagari comment", "```c\nint x = 1; // है value\n```", "Devanagari", "letters"),
    ("replacement run", "Broken \ufffd\ufffd text", "Replacement", "replacement"),
    ("control", "Bell \x07 here", "Control", "control"),
    ("c1 control", "Next \x85 line", "Control", "control"),
    ("ansi", "\x1b[31mred\x1b[0m text", "Control", "ansi_escape"),
    ("lone surrogate", "half \ud800 pair", "Unknown", "invalid"),
    ("noncharacter", "not \uffff a char", "Unknown", "invalid"),
]


@pytest.mark.parametrize(("name", "text", "script", "kind"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corruption_fails(name: str, text: str, script: str, kind: str) -> None:
    """Each corruption class fails, and its first run names the script and the kind."""
    result = judge(text)
    assert not result.passed
    assert result.score == 0.0
    assert (result.evidence["runs"][0]["script"], result.evidence["runs"][0]["kind"]) == (
        script,
        kind,
    )


def test_several_scripts_at_once() -> None:
    """Thai, Han and Cyrillic in one reply give one run each and counts per script."""
    result = judge("Start ก middle 中文 end и.")
    assert [r["script"] for r in result.evidence["runs"]] == ["Thai", "Han", "Cyrillic"]
    assert result.evidence["counts"] == {"Cyrillic": 1, "Han": 2, "Thai": 1}
    assert result.evidence["chars"] == 4


def test_evidence_of_a_run() -> None:
    """A run carries script, kind, offsets, line and column, prose or code, code points and an
    escaped snippet; the evidence is JSON-serialisable."""
    text = "Intro line.\n\n```python\nx = 1  # ที่\n```\nAfter."
    result = judge(text)
    run = result.evidence["runs"][0]
    offset = text.index("ที่")
    assert run == {
        "script": "Thai",
        "kind": "letters",
        "offset": offset,
        "length": 3,
        "line": 4,
        "column": 10,
        "where": "code",
        "codepoints": ["U+0E17", "U+0E35", "U+0E48"],
        "snippet": "ne.\\n\\n```python\\nx = 1  # ⟦\\u0e17\\u0e35\\u0e48⟧\\n```\\nAfter.",
    }
    assert result.evidence["allowed"] == ["Common", "Inherited", "Latin"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_evidence_is_capped_but_counts_are_not() -> None:
    """At most MAX_RUNS runs are listed; runs_total and counts cover all of them."""
    result = judge(" ".join(["word ก"] * 50))
    assert len(result.evidence["runs"]) == scripts.MAX_RUNS
    assert result.evidence["runs_total"] == 50
    assert result.evidence["counts"] == {"Thai": 50}


def test_counts_use_bounded_labels() -> None:
    """Scripts outside SCRIPT_LABELS count as "Other"; every label is in the fixed table."""
    result = judge("Old Italic 𐌀 and Runic ᚠ and Thai ก")
    assert result.evidence["counts"] == {"Other": 2, "Thai": 1}
    assert set(result.evidence["counts"]) <= set(SCRIPT_LABELS)
    assert script_label("Ogham") == "Other"
    assert script_label("Thai") == "Thai"
    assert "Other" in SCRIPT_LABELS and len(SCRIPT_LABELS) == len(set(SCRIPT_LABELS)) < 50


def test_none_without_scripts_or_language() -> None:
    """A probe that declares no scripts gets no check, not a pass."""
    assert scripts.check(Reply(text="ก", finish_reason=None), Expectation()) is None


def test_explicit_scripts_win_over_language() -> None:
    """`scripts` replaces the language default: Cyrillic alone makes Latin a stray."""
    result = judge("Привет world", {"language": "en", "scripts": ["Cyrillic"]})
    assert not result.passed
    assert result.evidence["runs"][0]["script"] == "Latin"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Latin", ("Latin",)),
        ("latn", ("Latin",)),
        ("Hani", ("Han",)),
        ("Jpan", ("Han", "Hiragana", "Katakana")),
        ("Kore", ("Hangul", "Han")),
        ("canadian aboriginal", ("Canadian_Aboriginal",)),
        ("Zyyy", ("Common",)),
        ("Klingon", None),
    ],
)
def test_script_names_and_aliases(given: str, expected: tuple[str, ...] | None) -> None:
    """Long names, ISO 15924 codes and any spelling regex accepts resolve to long names."""
    assert canonical_scripts(given) == expected


def test_unknown_script_is_an_error_check() -> None:
    """A misspelt script fails the check with a message rather than judging nothing."""
    result = judge("text", {"scripts": ["Latn", "Klingon"]})
    assert (result.passed, result.evidence) == (
        False,
        {"error": "unknown script 'Klingon' in `scripts`"},
    )


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", ("Latin",)),
        ("en-GB", ("Latin",)),
        ("de", ("Latin",)),
        ("vi", ("Latin",)),
        ("ja", ("Han", "Hiragana", "Katakana", "Latin")),
        ("zh", ("Han", "Latin")),
        ("zh-TW", ("Han", "Bopomofo", "Latin")),
        ("zh-Hant", ("Han", "Bopomofo", "Latin")),
        ("ko", ("Hangul", "Han", "Latin")),
        ("ru", ("Cyrillic", "Latin")),
        ("uk", ("Cyrillic", "Latin")),
        ("th", ("Thai", "Latin")),
        ("el", ("Greek", "Latin")),
        ("ar", ("Arabic", "Latin")),
        ("he", ("Hebrew", "Latin")),
        ("hi", ("Devanagari", "Latin")),
        ("sr-Latn", ("Latin",)),
        ("sr", ("Cyrillic", "Latin")),
        ("pa-PK", ("Arabic", "Latin")),
        ("xx", None),
    ],
)
def test_language_defaults(tag: str, expected: tuple[str, ...] | None) -> None:
    """BCP 47 tags map to the issue's default sets; script subtags and regions refine them."""
    assert language_scripts(tag) == expected


def test_unknown_language_is_judged_as_latin_with_a_note() -> None:
    """A language without a table entry is judged as Latin and the evidence says so."""
    result = judge("plain text", {"language": "xx"})
    assert result.passed
    assert "judged as Latin" in result.evidence["note"]


def test_language_table_agrees_with_cldr() -> None:
    """Each language's set holds CLDR's likely script (langcodes' likely subtags)."""
    langcodes = pytest.importorskip("langcodes")
    disagreements = []
    for lang, scripts_ in LANGUAGE_SCRIPTS.items():
        likely = langcodes.Language.get(lang).maximize().script
        if likely and (canonical_scripts(likely) or ("?",))[0] not in scripts_:
            disagreements.append((lang, likely, scripts_))
    # Pali and Ainu: the catalogs and texts in use are Devanagari and Katakana, not CLDR's Latin
    # (which the set includes anyway, as every set does).
    assert disagreements == []


def test_script_names_cover_every_code_point() -> None:
    """SCRIPT_NAMES is complete for the regex package's Unicode version."""
    found = {script_of(c) for c in all_code_points()[::7]}
    assert found <= set(SCRIPT_NAMES)
    assert (
        script_of("ก") == "Thai" and script_of("a") == "Latin" and script_of("\u0378") == "Unknown"
    )
