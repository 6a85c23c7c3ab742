"""`suspicious_format`: invisible characters that change how a reply reads or what it carries.

Lower severity than `unexpected_script`, and a different incident class, hidden text: not a
wrong token from the sampler but text that is not what it looks like. Zero-width characters split or
join words invisibly, bidi controls reorder what a reader sees (Trojan Source,
CVE-2021-42574), tag characters and runs of variation selectors smuggle hidden ASCII or
bytes into a reply (prompt-injection payloads, watermarks). Each is accepted where writing
systems need it:

- ZWJ and ZWNJ between letters of a script that shapes with them (Persian, Indic, Sinhala...),
  ZWSP between letters of a script written without spaces (Thai, Khmer: it marks word
  breaks) and ZWJ inside emoji sequences (👩‍💻);
- one variation selector after an emoji, a symbol, a digit or an ideograph (❤️, 1️⃣, 葛󠄀);
- tag characters only inside an emoji tag sequence (🏴 + tags + CANCEL TAG: 🏴󠁧󠁢󠁳󠁣󠁴󠁿);
- LRM, RLM, ALM and bidi isolates or embeddings in prose paragraphs that hold right-to-left text,
  never in code, and never the overrides (LRO, RLO);
- a soft hyphen, a byte order mark at offset 0, prepended concatenation marks (visible).

Gated like `unexpected_script`: a probe that declares neither `scripts` nor `language` gets
no check.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from typing import Any

import regex

from monitor.config.expectation import Expectation
from monitor.detectors.descriptor import Detector
from monitor.detectors.scripts_sets import all_code_points, resolve, script_of
from monitor.detectors.scripts_spans import CodeMap, codepoint, line_column, snippet
from monitor.types import Check, Reply

NAME = "suspicious_format"
MAX_RUNS = 20

_CANDIDATE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\p{Cf}]")

_VS = regex.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_TAG = regex.compile(r"[\U000e0001\U000e0020-\U000e007f]")
_EMOJI_BASE = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji}\p{Emoji_Modifier}\p{S}\p{N}]")
_PICTOGRAPHIC = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\ufe0f]")
_LETTER = regex.compile(r"[\p{L}\p{M}]")
_RTL = regex.compile(r"(?V1)[\p{L}&&[\p{Bidi_Class=R}\p{Bidi_Class=AL}]]")
_PCM = regex.compile(r"\p{Prepended_Concatenation_Mark}")
_VISUAL_SCRIPTS = frozenset({"Latin", "Greek", "Cyrillic", "Common", "Inherited", "Unknown"})
_BIDI_MARKS = frozenset("\u200e\u200f\u061c")
_BIDI_SCOPED = frozenset("\u202a\u202b\u202c\u2066\u2067\u2068\u2069")
_BIDI_OVERRIDES = frozenset("\u202d\u202e")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d")


@cache
def _scanner() -> re.Pattern[str]:
    """`_CANDIDATE` as a stdlib pattern of plain ranges, derived once from `regex`'s Unicode
    data: it scans several times faster than a property class."""
    points = sorted(ord(c) for c in _CANDIDATE.findall(all_code_points()))
    ranges: list[tuple[int, int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in ranges)
    return re.compile(f"[{body}]")


def _kind(char: str) -> str:
    if char in _BIDI_MARKS or char in _BIDI_SCOPED or char in _BIDI_OVERRIDES:
        return "bidi"
    if _VS.match(char):
        return "variation_selector"
    if _TAG.match(char):
        return "tag"
    if char in "\u200b\u200c\u200d\u2060\ufeff\u180e":
        return "zero_width"
    return "invisible"


def _before(text: str, i: int) -> str:
    return text[i - 1] if i > 0 else ""


def _after(text: str, i: int) -> str:
    return text[i + 1] if i + 1 < len(text) else ""


def _script_around(text: str, i: int, step: int) -> str | None:
    """The script of the nearest character from i in direction `step`, past spaces, other
    zero-widths and combining marks (a virama belongs to its base's script); None at an end."""
    j = i + step
    while 0 <= j < len(text) and (
        text[j] in _ZERO_WIDTH or text[j].isspace() or script_of(text[j]) == "Inherited"
    ):
        j += step
    return script_of(text[j]) if 0 <= j < len(text) else None


def _joiner_ok(text: str, i: int) -> bool:
    prev, nxt = _before(text, i), _after(text, i)
    if (
        text[i] == "\u200d"
        and prev
        and nxt
        and _PICTOGRAPHIC.match(prev)
        and _PICTOGRAPHIC.match(nxt)
    ):
        return True
    scripts = {_script_around(text, i, -1), _script_around(text, i, 1)} - {None}
    return any(s not in _VISUAL_SCRIPTS for s in scripts if s is not None)


class _RightToLeft:
    """Which paragraphs (text between blank lines) hold right-to-left letters, found once each."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._known: dict[int, bool] = {}

    def __call__(self, i: int) -> bool:
        start = self._text.rfind("\n\n", 0, i) + 1
        if start not in self._known:
            end = self._text.find("\n\n", i)
            paragraph = self._text[start : end if end >= 0 else len(self._text)]
            self._known[start] = bool(_RTL.search(paragraph))
        return self._known[start]


def _accepted(text: str, i: int, code: CodeMap, rtl: _RightToLeft) -> bool:
    char = text[i]
    prev = _before(text, i)
    if char == "\u00ad" or _PCM.match(char) or (char == "\ufeff" and i == 0):
        return True
    if char in "\u200b\u200c\u200d":
        return _joiner_ok(text, i)
    if _VS.match(char):
        return (
            bool(prev)
            and not _VS.match(prev)
            and not prev.isspace()
            and (bool(_EMOJI_BASE.match(prev)) or script_of(prev) not in _VISUAL_SCRIPTS)
        )
    if _TAG.match(char):
        j = i
        while j > 0 and _TAG.match(text[j - 1]):
            j -= 1
        end = i
        while end < len(text) and _TAG.match(text[end]) and text[end] != "\U000e007f":
            end += 1
        closed = end < len(text) and text[end] == "\U000e007f"
        return j > 0 and text[j - 1] == "\U0001f3f4" and closed and char != "\U000e0001"
    if char in _BIDI_MARKS or char in _BIDI_SCOPED:
        return not code.is_code(i) and rtl(i)
    if char in "\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u034f":
        return bool(prev) and script_of(prev) not in _VISUAL_SCRIPTS
    return False


def find_runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each run of suspicious invisible characters."""
    runs: list[tuple[int, int, str]] = []
    code: CodeMap | None = None
    rtl = _RightToLeft(text)
    for found in _scanner().finditer(text):
        i = found.start()
        if code is None:
            code = CodeMap(text)
        if _accepted(text, i, code, rtl):
            continue
        kind = _kind(text[i])
        if runs and runs[-1][1] == i and runs[-1][2] == kind:
            runs[-1] = (runs[-1][0], i + 1, kind)
        else:
            runs.append((i, i + 1, kind))
    return runs


def _name(char: str) -> str:
    return unicodedata.name(char, codepoint(char))


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Flag invisible format characters outside the places writing systems need them.

    Evidence: each run (kind, offset, line and column, prose or code, code points and names,
    escaped snippet; the first `MAX_RUNS`), the number of runs and `counts` by kind.
    """
    if resolve(expect) == (None, None):
        return None
    text = reply.text
    runs = [] if text.isascii() or not _scanner().search(text) else find_runs(text)
    counts: Counter[str] = Counter()
    listed: list[dict[str, Any]] = []
    code = CodeMap(text) if runs else None
    for start, end, kind in runs:
        counts[kind] += end - start
        if code is not None and len(listed) < MAX_RUNS:
            line, column = line_column(text, start)
            chars = text[start:end]
            listed.append(
                {
                    "kind": kind,
                    "offset": start,
                    "length": end - start,
                    "line": line,
                    "column": column,
                    "where": code.where(start),
                    "codepoints": [codepoint(c) for c in chars[:16]],
                    "names": sorted({_name(c) for c in chars}),
                    "snippet": snippet(text, start, end),
                }
            )
    passed = not runs
    evidence = {
        "severity": "warning",
        "runs": listed,
        "runs_total": len(runs),
        "counts": dict(sorted(counts.items())),
    }
    return Check(detector=NAME, passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


DETECTOR = Detector(
    name=NAME,
    incident="hidden text",
    applies=lambda expect: expect.scripts is not None or expect.language is not None,
    reasons=("bidi", "variation_selector", "tag", "zero_width", "invisible"),
    check=check,
)
