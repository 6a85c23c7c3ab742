"""`unexpected_script`: letters of a script the probe did not declare, and broken text.

Guards the output-corruption incident class (Sep-2025 serving misconfiguration: Thai or
Chinese characters in the middle of English answers, foreign tokens inside code). A
whole-reply language-ID misses one stray token, and "any non-ASCII character" flags every
third clean answer, so this detector finds single characters while staying silent on the rich
Unicode that good answers carry. It flags:

- letters, marks and digits of any script outside the allowed set (`scripts`, or the default
  of `language`; Common and Inherited are always allowed, and so is any character whose
  Script_Extensions name an allowed script), from one code point to whole words;
- homoglyphs: Greek or Cyrillic look-alikes glued into Latin words, and one or two Greek or
  Cyrillic letters in an otherwise Latin word when those scripts are allowed too;
- runs of U+FFFD, C0 and C1 control characters (tab, line feed, carriage return and form
  feed excepted), ANSI escape sequences, noncharacters and lone surrogates (not unassigned
  code points: next year's emoji are unassigned in this year's tables).

It accepts everything else, notably Greek letters used as symbols, IPA and kaomoji (see
`scripts_context`), and characters whose NFKC form is allowed. Zero-width and bidi
characters are `suspicious_format`'s, a lower-severity check.

The fast path is one precompiled pattern per allowed set that skips ASCII and allowed
scripts at C speed; only the rare candidates it finds are classified in Python.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex

from monitor.config.expectation import Expectation
from monitor.detectors import scripts_context as ctx
from monitor.detectors.descriptor import Detector, EvidenceCounter
from monitor.detectors.scripts_kaomoji import kaomoji
from monitor.detectors.scripts_sets import (
    CONTROL,
    REPLACEMENT,
    SCRIPT_LABELS,
    ScriptSet,
    resolve,
    script_label,
    script_of,
)
from monitor.detectors.scripts_spans import CodeMap, codepoint, line_column, snippet
from monitor.types import Check, Reply

NAME = "unexpected_script"
__all__ = ["DETECTOR", "NAME", "SCRIPT_LABELS", "Run", "check", "find_runs"]

#: Evidence lists at most this many runs (all are counted) and code points per run.
MAX_RUNS = 20
MAX_CODEPOINTS = 16
#: Past this many flagged runs the verdict is settled: later candidates are counted by script
#: without weighing their context, which keeps a thoroughly corrupted reply linear and fast.
MAX_JUDGED = 64

# stdlib `re` for the byte-range classes: it scans plain ranges several times faster.
_BROKEN_CHAR = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")  # the fast gate
_BROKEN = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])?"
    r"|[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f]+"
    r"|\ufffd+"
)
# Letters, marks and digits are text; foreign punctuation and symbols are not. Unassigned code
# points are not judged either (next year's emoji are unassigned to this year's tables), but
# noncharacters and lone surrogates are broken text.
_JUDGED = regex.compile(r"[\p{L}\p{M}\p{N}\p{Cs}\p{Noncharacter_Code_Point}]")
_MODIFIER_SCRIPTS = frozenset({"Greek", "Cyrillic"})
_MODIFIER = regex.compile(r"[\p{Lm}\p{M}]")
_MARK = regex.compile(r"\p{M}")
_CASED_SCRIPTS = frozenset({"Latin", "Greek", "Cyrillic", "Armenian", "Coptic", "Georgian"})


@dataclass(frozen=True, slots=True)
class Run:
    """One flagged stretch of text[start:end] (offsets in code points)."""

    start: int
    end: int
    script: str  # a Script value, or CONTROL / REPLACEMENT
    kind: str  # letters | homoglyph | control | ansi_escape | replacement | invalid


def _broken_runs(text: str) -> list[Run]:
    runs = []
    for found in _BROKEN.finditer(text):
        start, end = found.span()
        if text[start] == "\ufffd":
            runs.append(Run(start, end, REPLACEMENT, "replacement"))
        elif text[start] == "\x1b" and end - start > 1:
            runs.append(Run(start, end, CONTROL, "ansi_escape"))
        else:
            runs.append(Run(start, end, CONTROL, "control"))
    return runs


def _group_end(text: str, start: int, script: str) -> int:
    """End of the run of `script` letters from `start`, across combining marks between them."""
    end = start + 1
    while end < len(text):
        char = text[end]
        if script_of(char) == script and _JUDGED.match(char):
            end += 1
        elif _MARK.match(char):
            probe = end + 1
            while probe < len(text) and _MARK.match(text[probe]):
                probe += 1
            if probe < len(text) and script_of(text[probe]) == script:
                end = probe + 1
            else:
                return probe  # trailing marks belong to the run (ά, α̂)
        else:
            break
    return end


class _Judge:
    """The context rules for one reply, with what they share: the code map, how often a
    string recurs (a Greek identifier in code is defined and used) and a memo of verdicts.

    Every rule looks at most `MAX_WORD` characters away, so two candidates with identical
    surroundings get the same verdict: repeated faces and symbols are judged once.
    """

    def __init__(self, text: str, sset: ScriptSet) -> None:
        self.text = text
        self.sset = sset
        self.code = CodeMap(text)
        self.occurrences: Callable[[str], int] = cache(text.count)
        self._verdicts: dict[tuple[str, int, bool], str | None] = {}

    def __call__(self, start: int, end: int, script: str) -> str | None:
        """Why text[start:end] is benign (a rule name), or None if it is corruption."""
        text, reach, block = self.text, ctx.MAX_WORD, self.code.is_block(start)
        key = (text[max(0, start - reach) : end + reach], min(start, reach), block)
        if key not in self._verdicts:
            self._verdicts[key] = self._rules(start, end, script, block)
        return self._verdicts[key]

    def _rules(self, start: int, end: int, script: str, block: bool) -> str | None:
        text = self.text
        run = text[start:end]
        normal = unicodedata.normalize("NFKC", run)
        if normal != run and not self.sset.candidates.search(normal):
            return "compatibility"
        if script in _MODIFIER_SCRIPTS and all(_MODIFIER.match(c) for c in run):
            return "modifier_letter"  # superscript phonetic letters: ᵝ, ᵸ
        if script == "Greek":
            if ctx.greek_symbol(text, start, end, block, self.occurrences):
                return "greek_symbol"
            if ctx.ipa(text, start, end, block):
                return "ipa"
        if end - start <= 6 and kaomoji(text, start, end, self.sset.letter, block):
            return "kaomoji"
        return None


def _kind(text: str, start: int, end: int, script: str, sset: ScriptSet) -> str:
    if script == "Unknown":
        return "invalid"
    if (
        script in _CASED_SCRIPTS
        and end - start <= 3
        and ctx.glued_to_word(text, start, end, sset.letter)
    ):
        return "homoglyph"
    return "letters"


def _mixed_runs(text: str, sset: ScriptSet, accepted: Counter[str]) -> list[Run]:
    """Homoglyphs that each allowed set misses: a Cyrillic or Greek letter in a Latin word.

    Only where Latin is the word's clear majority ("exеcuted" in a Russian reply): the
    converse, a Latin letter in a Cyrillic word, is how real Tatar or Chechen text writes
    letters that keyboards lack, so it is left alone.
    """
    if sset.mixed is None or not sset.mixed.search(text):
        return []
    runs = []
    seen: set[int] = set()
    for found in sset.mixed.finditer(text, overlapped=True):
        left, right = ctx.word_around(text, found.start(), found.start())
        word_start = found.start() - len(left)
        if word_start in seen:
            continue
        seen.add(word_start)
        by_script = Counter(script_of(c) for c in left + right if ctx.is_letter(c))
        latin = by_script.pop("Latin", 0)
        others = sum(by_script.values())
        if latin < 3 or others > 2 or latin < 2 * others:
            continue
        for offset, char in enumerate(left + right, start=word_start):
            script = script_of(char)
            if not ctx.is_letter(char) or script not in by_script:
                continue
            if script == "Greek" and ctx.greek_symbol(text, offset, offset + 1):
                accepted["greek_symbol"] += 1
            else:
                runs.append(Run(offset, offset + 1, script, "homoglyph"))
    return runs


def find_runs(text: str, sset: ScriptSet) -> tuple[list[Run], Counter[str]]:
    """Every flagged run in offset order, and how many candidate runs each rule accepted."""
    accepted: Counter[str] = Counter()
    runs = _broken_runs(text) if _BROKEN_CHAR.search(text) else []
    judge: _Judge | None = None
    pos = 0
    while (found := sset.candidates.search(text, pos)) is not None:
        start, stop = found.span()
        pos = stop
        while start < stop:
            if not _JUDGED.match(text[start]):
                start += 1  # foreign punctuation and symbols are no text
                continue
            script = script_of(text[start])
            end = _group_end(text, start, script)
            pos = max(pos, end)
            reason = None
            if script != "Unknown" and len(runs) < MAX_JUDGED:
                judge = judge or _Judge(text, sset)
                reason = judge(start, end, script)
            if reason is not None:
                accepted[reason] += 1
            else:
                runs.append(Run(start, end, script, _kind(text, start, end, script, sset)))
            start = end
    runs.extend(_mixed_runs(text, sset, accepted))
    runs.sort(key=lambda r: r.start)
    return runs, accepted


def _run_evidence(text: str, run: Run, code: CodeMap) -> dict[str, Any]:
    line, column = line_column(text, run.start)
    chars = text[run.start : run.end]
    return {
        "script": run.script,
        "kind": run.kind,
        "offset": run.start,
        "length": run.end - run.start,
        "line": line,
        "column": column,
        "where": code.where(run.start),
        "codepoints": [codepoint(c) for c in chars[:MAX_CODEPOINTS]],
        "snippet": snippet(text, run.start, run.end),
    }


def _char_count(text: str, run: Run) -> int:
    """Characters the run adds to its script's count (not the marks it merely carries)."""
    if run.kind in ("control", "ansi_escape", "replacement"):
        return run.end - run.start
    return sum(
        1 for c in text[run.start : run.end] if not _MARK.match(c) or script_of(c) != "Inherited"
    )


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Judge the reply against the allowed scripts; None when neither `scripts` nor `language`.

    Evidence: the allowed set, each flagged run (script, kind, offset, line and column,
    prose or code, code points, escaped snippet; the first `MAX_RUNS`), the total number of
    runs and flagged characters, `counts` (flagged characters per `script_label`, the
    bounded `script` metric label) and how many candidate runs each benign rule accepted.
    """
    sset, problem = resolve(expect)
    if sset is None:
        if problem is None:
            return None
        return Check(detector=NAME, passed=False, score=0.0, evidence={"error": problem})
    text = reply.text
    runs, accepted = find_runs(text, sset)
    counts: Counter[str] = Counter()
    for run in runs:
        counts[script_label(run.script)] += _char_count(text, run)
    code = CodeMap(text) if runs else None
    evidence: dict[str, Any] = {
        "allowed": sorted(sset.scripts),
        "runs": [_run_evidence(text, r, code) for r in runs[:MAX_RUNS]] if code else [],
        "runs_total": len(runs),
        "chars": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "accepted": dict(sorted(accepted.items())),
    }
    if problem is not None:
        evidence["note"] = problem
    passed = not runs
    return Check(detector=NAME, passed=passed, score=1.0 if passed else 0.0, evidence=evidence)


def _chars_by_script(check: Check) -> Iterator[tuple[str, float]]:
    """Flagged characters per script label, from `counts` (passed checks carry none)."""
    for script, count in dict(check.evidence.get("counts") or {}).items():
        if isinstance(count, int) and count > 0:
            yield script, count


DETECTOR = Detector(
    name=NAME,
    incident="output corruption",
    applies=lambda expect: expect.scripts is not None or expect.language is not None,
    reasons=("letters", "homoglyph", "control", "ansi_escape", "replacement", "invalid"),
    check=check,
    families=(
        EvidenceCounter(
            name="canary_unexpected_script_chars",
            help="Characters of scripts the probe did not allow (script from a fixed table).",
            label="script",
            values=SCRIPT_LABELS,
            count=_chars_by_script,
        ),
    ),
)
