"""Go and Rust: tree-sitter's grammars plus the few rules of gofmt's and rustc's parsers
that tree-sitter's error recovery lets through.

- both: every character outside comments and literals must belong to a token, and in Rust a
  lone `'` must open a lifetime or a label: inside a macro's token tree tree-sitter takes any
  stray character (a `'` in `f(').is_err()`), which rustc's lexer rejects ("unterminated
  character literal").
- Go: identifiers are letters and digits (tree-sitter-go also takes combining marks); `||`
  and `&&` are single tokens (tree-sitter may split `&&x` into `& &x`);
  a file with a `package` clause holds only declarations (gofmt: "expected declaration");
  a parameter list names all its parameters or none ("missing parameter type").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import regex
import tree_sitter

from monitor.detectors.code_parsers.base import (
    SyntaxIssue,
    grammar,
    parse_tree,
    parser_name,
    source_bytes,
    tree_error,
)
from monitor.detectors.code_parsers.ecma import split_operators

_GO_DECLARATIONS = frozenset(
    {
        "package_clause", "import_declaration", "function_declaration", "method_declaration",
        "type_declaration", "var_declaration", "const_declaration", "comment", ";", "\n",
    }
)  # fmt: skip
# A lone `'` token is valid Rust only as the start of a lifetime or label (`'a`, `'outer:`).
_LIFETIME_START = re.compile(rb"[A-Za-z_]")
_GO_QUERY = """
(parameter_list) @parameters
["|" "&"] @single
"""
# Go identifiers: letters (Lu Ll Lt Lm Lo) and `_`, then also Nd digits; no marks (Mn).
_GO_IDENTIFIER = regex.compile(r"[\p{L}_][\p{L}\p{Nd}_]*")


@functools.cache
def _go_query() -> tree_sitter.Query:
    return tree_sitter.Query(grammar("go"), _GO_QUERY)


def _atomic(node: tree_sitter.Node) -> bool:
    kind = node.type
    return "comment" in kind or "string" in kind or kind in ("char_literal", "rune_literal")


def _leaves(tree: tree_sitter.Tree) -> Iterator[tree_sitter.Node]:
    """Leaves in document order; comments and literals count as one leaf each."""
    cursor = tree.walk()
    while cursor.node is not None:
        if not _atomic(cursor.node) and cursor.goto_first_child():
            continue
        yield cursor.node
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def _skipped(data: bytes, tree: tree_sitter.Tree, go_names: bool) -> tuple[int, str] | None:
    """The first non-blank byte that no token covers (a character tree-sitter skipped), a
    lone Rust `'`, or (`go_names`) a Go identifier with a character Go does not allow."""
    covered = 0
    for leaf in _leaves(tree):
        gap = data[covered : leaf.start_byte]
        if leaf.start_byte > covered and gap.strip():
            at = covered + len(gap) - len(gap.lstrip())
            char = data[at:].decode("utf-8", "replace")[:1]
            return at, f"unexpected {char!r}"
        if leaf.type == "'" and not _LIFETIME_START.match(data, leaf.end_byte):
            return leaf.start_byte, "unterminated character literal"
        if go_names and leaf.type.endswith("identifier"):
            name = data[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
            if not _GO_IDENTIFIER.fullmatch(name):
                return leaf.start_byte, f"invalid character in identifier {name!r}"
        covered = max(covered, leaf.end_byte)
    return None


def _go_rules(data: bytes, root: tree_sitter.Node) -> tuple[int, str] | None:
    found: list[tuple[int, str]] = []
    if any(child.type == "package_clause" for child in root.children):
        for child in root.children:
            if child.type not in _GO_DECLARATIONS:
                found.append((child.start_byte, "non-declaration statement outside a function"))
                break
    captures = tree_sitter.QueryCursor(_go_query()).captures(root)
    found.extend(split_operators(data, captures.get("single", [])))
    for node in captures.get("parameters", []):
        params = [c for c in node.children if c.type.endswith("parameter_declaration")]
        named = {c.child_by_field_name("name") is not None for c in params}
        if named == {True, False}:
            found.append((node.start_byte, "missing parameter type (mixed named and unnamed)"))
    return min(found) if found else None


def issue(name: str, code: str) -> SyntaxIssue | None:
    """The first syntax error of Go or Rust `code` (grammar `name`: "go" or "rust")."""
    data = source_bytes(code)
    tree = parse_tree(name, data)
    error = tree_error(name, data, tree)
    if error is not None:
        return error
    found = [
        f
        for f in (
            _skipped(data, tree, name == "go" and not data.isascii()),
            _go_rules(data, tree.root_node) if name == "go" else None,
        )
        if f
    ]
    if not found:
        return None
    offset, message = min(found)
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[data.rfind(b"\n", 0, offset) + 1 : offset].decode("utf-8", "replace")) + 1
    return SyntaxIssue(parser_name(name), message, line, column)
