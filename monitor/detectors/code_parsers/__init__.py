"""One real grammar per language, behind one call: `judge(code, target) -> Verdict`.

| language | parser |
| --- | --- |
| python | CPython's `ast.parse` at the target version (tree-sitter-python only for the 3.12+ |
| | constructs an older interpreter cannot parse) |
| javascript | tree-sitter-javascript (scripts, modules, JSX) + ECMAScript rules (`ecma`) |
| typescript | tree-sitter-typescript (`tsx` for TSX) + ECMAScript rules (`ecma`) |
| json | `json` (strict; `jsonc` comments and trailing commas; `jsonl` a value a line) |
| yaml | libyaml's event parser through PyYAML (every document, any tag, anchors) |
| sql | any allowed dialect: pglast (PostgreSQL), sqlite3 (SQLite), sqlglot (others) |
| bash | tree-sitter-bash + bash's rules it leaves out (`shell`) |
| go | tree-sitter-go + gofmt rules it leaves out (`go_rust`) |
| rust | tree-sitter-rust + rustc lexer rules it leaves out (`go_rust`) |

Every parser is pure and bounded: no I/O, no process, no clock. Errors that a parser raises on
hostile input (recursion, memory) become a syntax issue that says so, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from monitor.detectors.code_parsers import data, ecma, go_rust, python, shell, sql
from monitor.detectors.code_parsers.base import SyntaxIssue

__all__ = ["SyntaxIssue", "Target", "Verdict", "judge"]

_KNOWN = frozenset(
    {"python", "javascript", "typescript", "json", "yaml", "sql", "bash", "go", "rust"}
)
_SURROGATE = regex.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Target:
    """What to parse a block as: a canonical language, its variant and the probe's options."""

    language: str
    variant: str = ""
    python_version: tuple[int, int] = python.LATEST
    sql_dialects: tuple[str, ...] = sql.DEFAULT_DIALECTS


@dataclass(frozen=True, slots=True)
class Verdict:
    """The first syntax error (None when the code parses), the parser used, and a note."""

    issue: SyntaxIssue | None
    parser: str
    note: str | None = None


def _dialects(target: Target) -> tuple[str, ...]:
    """The SQL dialects to try: the one a block's tag names, else the probe's."""
    if target.variant:
        return (target.variant,)
    return target.sql_dialects


def judge(code: str, target: Target) -> Verdict:
    """Parse `code` as `target`; raises ValueError only for a language it does not know.

    A lone surrogate (possible in JSON-decoded text) cannot be in any source file: it is the
    first error, before any parser sees the code. A parser that raises anyway is a bug in it;
    the verdict then names the exception type, and the check goes on.
    """
    surrogate = _SURROGATE.search(code)
    if surrogate is not None:
        line = code.count("\n", 0, surrogate.start()) + 1
        column = surrogate.start() - (code.rfind("\n", 0, surrogate.start()) + 1) + 1
        message = f"invalid character: lone surrogate U+{ord(surrogate.group()):04X}"
        return Verdict(SyntaxIssue("unicode", message, line, column), "unicode")
    try:
        return _judge(code, target)
    except (ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as exc:
        if target.language not in _KNOWN:
            raise
        issue = SyntaxIssue(target.language, f"parser failed: {type(exc).__name__}", 1, 1)
        return Verdict(issue, target.language)


def _judge(code: str, target: Target) -> Verdict:
    language, variant = target.language, target.variant
    if language == "python":
        issue, note = python.parse(code, target.python_version)
        major, minor = target.python_version
        return Verdict(issue, f"{python.PARSER} (Python {major}.{minor} grammar)", note)
    if language in ("javascript", "typescript"):
        name = "tsx" if variant == "tsx" else language
        return Verdict(ecma.issue(name, code), f"tree-sitter-{language} + ECMAScript rules")
    if language == "bash":
        return Verdict(shell.issue(code), "tree-sitter-bash + bash rules")
    if language in ("go", "rust"):
        return Verdict(go_rust.issue(language, code), f"tree-sitter-{language} + {language} rules")
    if language == "json":
        return Verdict(data.parse_json(code, variant), f"json{f' ({variant})' if variant else ''}")
    if language == "yaml":
        return Verdict(data.parse_yaml(code), "pyyaml (libyaml events)")
    if language == "sql":
        dialects = _dialects(target)
        return Verdict(sql.parse(code, dialects), f"sql ({' | '.join(dialects)})")
    raise ValueError(f"no parser for {language!r}")
