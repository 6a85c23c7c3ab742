"""`code_syntax`: the code a probe asks for must parse with its language's real grammar.

Guards the Sep-2025 output-corruption incident: a serving misconfiguration gave high
probability to tokens that should almost never appear, and code in replies came back with
obvious syntax errors (Thai or Chinese tokens between code tokens, fullwidth `，：（）`, smart
quotes, dropped or doubled brackets, mangled indentation), and with code cut off mid-block.
Counting brackets finds a third of those and flags valid code that has a quote in a comment,
so every block goes through a real parser (see `code_parsers`) and the evidence says which
parser rejected what, where.

Which blocks: every fenced block tagged with the probe's `code_language` (or an alias, or a
language of the same family: JavaScript and TypeScript), and every untagged block, judged as
`code_language`. Output blocks (`text`, `console`, `log`..., or prompt transcripts) and blocks
in other languages are skipped. A reply without a fenced block has no code to judge: no check
(bare code is not guessed at; prose parses as valid YAML or shell). A reply that ends inside an
open fence is a truncation, its own outcome. Blocks over `MAX_CODE_CHARS` (or YAML nested over
`MAX_YAML_NESTING` levels) are not parsed, so a hostile reply costs bounded time; no canary
probe asks for that much code, so such a block fails with outcome `too_large`.

Score: the share of judged blocks that parse (a truncated block does not).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regex

from monitor.config.expectation import Expectation
from monitor.detectors import code_blocks
from monitor.detectors.code_blocks import LANGUAGE_LABELS, Block
from monitor.detectors.code_parsers import Target, Verdict, judge, python, sql
from monitor.detectors.descriptor import Detector, EvidenceCounter
from monitor.types import Check, Reply

NAME = "code_syntax"
__all__ = ["DETECTOR", "LANGUAGE_LABELS", "MAX_CODE_CHARS", "NAME", "check"]

#: Blocks longer than this are not parsed (about 50k tokens; parsing stays under a second).
MAX_CODE_CHARS = 200_000
#: Code judged per reply; blocks past this budget are reported as too large.
MAX_REPLY_CODE_CHARS = 400_000
#: libyaml's flow parser is quadratic in nesting depth; deeper YAML is not parsed.
MAX_YAML_NESTING = 1_000
EXCERPT_CHARS = 120

_FAMILY = {"typescript": "javascript"}
_FLOW = regex.compile(r"[\[\]{}]")


@dataclass(frozen=True, slots=True)
class _Judged:
    index: int  # 1-based among all fenced blocks of the reply
    block: Block
    target: Target
    outcome: str  # valid | syntax_error | truncated | too_large
    verdict: Verdict | None


def _target(language: str, variant: str, expect: Expectation) -> Target:
    version = python.LATEST
    if expect.python_version is not None:
        major, minor = expect.python_version.split(".")
        version = (int(major), int(minor))
    dialects = tuple(expect.sql_dialects) if expect.sql_dialects else sql.DEFAULT_DIALECTS
    return Target(language, variant, version, dialects)


def _selected(
    blocks: list[Block], expect: Expectation, wanted: tuple[str, str]
) -> list[tuple[int, Block, Target]]:
    """The blocks to judge, each with the grammar it is judged by."""
    chosen: list[tuple[int, Block, Target]] = []
    for index, block in enumerate(blocks, start=1):
        if code_blocks.is_output(block):
            continue
        if block.closed and not block.code.strip():
            continue  # an empty block holds nothing to judge
        if not block.tag:
            chosen.append((index, block, _target(*wanted, expect)))
            continue
        claimed = code_blocks.block_language(block)
        if claimed is None:
            continue
        if _FAMILY.get(claimed[0], claimed[0]) == _FAMILY.get(wanted[0], wanted[0]):
            # a generic tag (```sql) keeps the variant the probe names (code_language: postgres)
            variant = claimed[1] or (wanted[1] if claimed[0] == wanted[0] else "")
            chosen.append((index, block, _target(claimed[0], variant, expect)))
    return chosen


def _too_deep(block: Block, target: Target) -> bool:
    if target.language != "yaml":
        return False
    depth = deepest = 0
    for match in _FLOW.finditer(block.code):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest > MAX_YAML_NESTING


def _judge_all(chosen: list[tuple[int, Block, Target]]) -> list[_Judged]:
    judged: list[_Judged] = []
    budget = MAX_REPLY_CODE_CHARS
    for index, block, target in chosen:
        size = len(block.code)
        if size > MAX_CODE_CHARS or size > budget or _too_deep(block, target):
            judged.append(_Judged(index, block, target, "too_large", None))
            continue
        budget -= size
        verdict = judge(block.code, target)
        if not block.closed:
            outcome = "truncated"
        else:
            outcome = "valid" if verdict.issue is None else "syntax_error"
        judged.append(_Judged(index, block, target, outcome, verdict))
    return judged


def _excerpt(line_text: str, column: int) -> str:
    """The offending line, trimmed to about EXCERPT_CHARS around the column."""
    text = line_text.rstrip()
    if len(text) <= EXCERPT_CHARS:
        return text
    start = max(0, min(column - 1 - EXCERPT_CHARS // 2, len(text) - EXCERPT_CHARS))
    return ("…" if start else "") + text[start : start + EXCERPT_CHARS] + "…"


def _where(reply_lines: list[str], block: Block, line: int, column: int) -> dict[str, Any]:
    """Reply-relative line and column of a position in a block's code, with the excerpt."""
    code_lines = block.code.split("\n")
    line = max(1, min(line, len(code_lines)))
    reply_line = block.first_line + line - 1
    raw = reply_lines[reply_line - 1] if reply_line <= len(reply_lines) else code_lines[line - 1]
    removed = max(0, len(raw) - len(code_lines[line - 1]))
    return {
        "line": reply_line,
        "column": column + removed,
        "block_line": line,
        "excerpt": _excerpt(code_lines[line - 1], column),
    }


def _failure(first: _Judged, reply: Reply, reply_lines: list[str]) -> dict[str, Any]:
    block, verdict = first.block, first.verdict
    evidence: dict[str, Any] = {"block": first.index, "tag": block.tag or None}
    if first.outcome == "too_large" or verdict is None:
        evidence["message"] = (
            f"not parsed: {len(block.code)} characters (limit {MAX_CODE_CHARS} a block, "
            f"{MAX_REPLY_CODE_CHARS} a reply) or YAML nested over {MAX_YAML_NESTING} levels"
        )
        return evidence
    evidence["parser"] = verdict.parser
    if first.outcome == "truncated":
        fence_line = block.first_line - 1
        evidence["message"] = f"reply ends inside the code block opened on line {fence_line}"
        evidence["finish_reason"] = (
            None if reply.finish_reason is None else str(reply.finish_reason)
        )
        last = block.code.split("\n")
        evidence |= _where(reply_lines, block, len(last), len(last[-1]) + 1)
        if verdict.issue is not None:
            evidence["parse_error"] = verdict.issue.message
        return evidence
    issue = verdict.issue
    if issue is None:  # not reached: a valid block is not a failure
        return evidence
    evidence["parser"] = issue.parser
    evidence["message"] = issue.message
    evidence |= _where(reply_lines, block, issue.line, issue.column)
    return evidence


def check(reply: Reply, expect: Expectation) -> Check | None:
    """Parse the reply's code blocks as `expect.code_language`; None with nothing to judge."""
    if expect.code_language is None:
        return None
    wanted = code_blocks.canonical(expect.code_language)
    if wanted is None:
        return None  # not a language this detector parses; config validation should say so
    blocks = code_blocks.extract_blocks(reply.text)
    chosen = _selected(blocks, expect, wanted)
    if not chosen:
        return None
    judged = _judge_all(chosen)
    failed = [j for j in judged if j.outcome != "valid"]
    first = failed[0] if failed else judged[0]
    evidence: dict[str, Any] = {
        "language": first.target.language,
        "outcome": first.outcome,
        "blocks": len(judged),
        "failed_blocks": len(failed),
        "skipped_blocks": len(blocks) - len(judged),
    }
    notes = [j.verdict.note for j in judged if j.verdict is not None and j.verdict.note]
    if notes:
        evidence["note"] = notes[0]
    if failed:
        reply_lines = reply.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        evidence |= _failure(first, reply, reply_lines)
    else:
        evidence["parser"] = first.verdict.parser if first.verdict is not None else None
    score = (len(judged) - len(failed)) / len(judged)
    return Check(detector=NAME, passed=not failed, score=score, evidence=evidence)


def _failed_language(check: Check) -> Iterator[tuple[str, float]]:
    """One failure for the canonical language of a failed check's first bad block."""
    language = check.evidence.get("language")
    if not check.passed and isinstance(language, str):
        yield language, 1


DETECTOR = Detector(
    name=NAME,
    incident="output corruption",
    applies=lambda expect: expect.code_language is not None,
    reasons=("syntax_error", "truncated", "too_large"),
    check=check,
    families=(
        EvidenceCounter(
            name="canary_code_syntax_failures",
            help="Code blocks that did not parse, by canonical language.",
            label="language",
            values=LANGUAGE_LABELS,
            count=_failed_language,
        ),
    ),
)
