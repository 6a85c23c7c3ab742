"""The naive per-character script guess: the first words of each character's Unicode name.

Two uses, both deliberately independent of the detector under test: the benchmark's baseline
("what a straightforward implementation costs") and the hygiene filter that keeps only
genuinely clean real text as the corpus's clean replies (a paragraph of an English man page
that quotes Chinese is not a clean English reply, whatever the detector says about it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_MULTIWORD = {
    "CJK": "Han",
    "IDEOGRAPHIC": "Han",
    "KANGXI": "Han",
    "CANADIAN": "Canadian_Aboriginal",
    "OL": "Ol_Chiki",
    "TAI": "Tai",
    "NEW": "New_Tai_Lue",
    "OLD": "Old",
}
_SCRIPT_WORDS = {
    w.upper(): w
    for w in [
        "Latin",
        "Greek",
        "Cyrillic",
        "Armenian",
        "Hebrew",
        "Arabic",
        "Syriac",
        "Thaana",
        "Devanagari",
        "Bengali",
        "Gurmukhi",
        "Gujarati",
        "Oriya",
        "Tamil",
        "Telugu",
        "Kannada",
        "Malayalam",
        "Sinhala",
        "Thai",
        "Lao",
        "Tibetan",
        "Myanmar",
        "Georgian",
        "Hangul",
        "Ethiopic",
        "Cherokee",
        "Ogham",
        "Runic",
        "Khmer",
        "Mongolian",
        "Hiragana",
        "Katakana",
        "Bopomofo",
        "Yi",
        "Coptic",
        "Braille",
        "Tifinagh",
        "Nko",
        "Javanese",
        "Balinese",
        "Sundanese",
    ]
}
_WRAPPERS = ("FULLWIDTH", "HALFWIDTH", "SMALL", "CAPITAL", "MODIFIER", "SUPERSCRIPT", "SUBSCRIPT")


@lru_cache(maxsize=65536)
def naive_script(char: str) -> str:
    """A script name guessed from the character's name ("Common" when none is named)."""
    name = unicodedata.name(char, "")
    words = name.split()
    while words and words[0] in _WRAPPERS:
        words = words[1:]
    if not words:
        return "Common"
    first = words[0]
    if first in _SCRIPT_WORDS:
        return _SCRIPT_WORDS[first]
    if first in _MULTIWORD:
        return _MULTIWORD[first]
    if first == "LATIN":
        return "Latin"
    return "Common"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def foreign_letters(text: str, allowed: frozenset[str]) -> list[str]:
    """The letters of `text` whose naive script is outside `allowed` (plus Common)."""
    return [
        c
        for c in _NON_ASCII.findall(text)
        if c.isalpha() and naive_script(c) not in allowed and naive_script(c) != "Common"
    ]


def baseline_flags(text: str, allowed: frozenset[str]) -> int:
    """The naive detector: every character, its name, its first word. Returns flagged count."""
    flagged = 0
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LMN":
            script = naive_script.__wrapped__(char)
            if script != "Common" and script not in allowed:
                flagged += 1
        elif category == "Cc" and char not in "\t\n\r\f":
            flagged += 1
    return flagged
