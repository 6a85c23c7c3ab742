"""JSON (strict, JSONC, JSON Lines) and YAML (every document of a stream).

JSON is parsed as strict clients parse it: NaN and Infinity are not JSON. `jsonc` (tsconfig,
VS Code settings) also allows comments and trailing commas, which are blanked out, keeping
every line and column, before the strict parse. YAML goes through libyaml's event parser
(PyYAML's C binding when built, its pure-Python parser otherwise): multi-document streams, any
tag, anchors. An alias whose anchor is not in the block is accepted: excerpts of a larger
file (`<<: *defaults`) do that, and YAML parsers (eemeli/yaml, libyaml's parser) accept it;
only composing the document into data fails. Events rather than a composed tree also because
composing recurses per nesting level and can overflow the C stack on a hostile block.
"""

from __future__ import annotations

import json
from typing import Any

import regex
import yaml

from monitor.detectors.code_parsers.base import SyntaxIssue

_JSON = "json"
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML = "libyaml" if _YAML_LOADER is not yaml.SafeLoader else "pyyaml"

# Strings first, so that `//` or `,]` inside a string is never touched.
# A local tag that libyaml let through: `!` then URI characters, no `!` or flow indicator
# (YAML 1.2 ns-tag-char). The pure-Python scanner rejects the others; libyaml does not.
_LOCAL_TAG = regex.compile(r"![0-9A-Za-z\-%#;/?:@&=+$._~*'()]*")
_JSONC_COMMENTS = regex.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*(?s:.*?)\*/')
_JSONC_TRAILING = regex.compile(r'"(?:[^"\\\n]|\\.)*"|,(?=\s*[\]}])')


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def _blank(match: regex.Match[str]) -> str:
    text = match.group()
    if text.startswith('"'):
        return text
    return "".join("\n" if ch == "\n" else " " for ch in text)


def _json_value(text: str, line_offset: int = 0) -> SyntaxIssue | None:
    try:
        json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return SyntaxIssue(_JSON, exc.msg, exc.lineno + line_offset, exc.colno)
    except RecursionError:
        return SyntaxIssue(_JSON, "nesting too deep for the parser", 1 + line_offset, 1)
    except ValueError as exc:  # NaN/Infinity, or an integer over Python's digit limit
        return SyntaxIssue(_JSON, str(exc)[:200], 1 + line_offset, 1)
    return None


def parse_json(code: str, variant: str = "") -> SyntaxIssue | None:
    """Strict JSON; `jsonc` allows comments and trailing commas; `jsonl` one value a line."""
    if variant == "jsonl":
        for number, line in enumerate(code.split("\n")):
            if line.strip():
                issue = _json_value(line, number)
                if issue is not None:
                    return issue
        return None
    if variant == "jsonc":
        code = _JSONC_TRAILING.sub(_blank, _JSONC_COMMENTS.sub(_blank, code))
    return _json_value(code)


def parse_yaml(code: str) -> SyntaxIssue | None:
    """Every document of a YAML stream; the first scanner or parser error."""
    try:
        for event in yaml.parse(code, Loader=_YAML_LOADER):
            if isinstance(event, yaml.NodeEvent):
                tag = getattr(event, "tag", None)
                if tag and tag.startswith("!") and not _LOCAL_TAG.fullmatch(tag):
                    mark = event.start_mark
                    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    return SyntaxIssue(_YAML, f"invalid tag {tag!r}", line, column)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return SyntaxIssue(_YAML, message, line, column)
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0)
        line = code.count("\n", 0, position) + 1
        column = position - (code.rfind("\n", 0, position) + 1) + 1
        return SyntaxIssue(_YAML, str(exc).split("\n", 1)[0][:200], line, column)
    except RecursionError:
        return SyntaxIssue(_YAML, "nesting too deep for the parser", 1, 1)
    return None
