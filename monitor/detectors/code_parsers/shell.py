"""Bash and POSIX sh: tree-sitter-bash plus the rules of bash's grammar it leaves out.

tree-sitter-bash keeps going where bash stops: it takes a reserved word out of place as a
command name (`then then`, `do do`, a `then` whose `if` was lost), a word glued to a
parenthesis (`usage( x )`) as a command followed by a subshell, `;;` outside `case`, and a
`[ ... ]` test as a function body. On a tree without ERROR nodes this module applies those
rules, which are bash's own (each is a `bash -n` syntax error), keeping only violations that
a fresh parse from the start of their line confirms.
"""

from __future__ import annotations

import functools
import re

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

#: Lines before a violation from which a fresh parse must confirm it.
CONFIRM_LINES = 3
#: Reserved words that can never start a command.
_RESERVED = frozenset({"then", "else", "elif", "fi", "do", "done", "esac", "in", "}"})
_QUERY = (
    """
(command (subshell) @subshell)
(function_definition body: (test_command) @test_body)
";;" @case_end
((word) @word (#match? @word "[(]"))
((command_name (word) @name) (#any-of? @name """
    + " ".join(f'"{word}"' for word in sorted(_RESERVED))
    + "))"
)
# tree-sitter-bash joins a line of two or more assignments (`a=1 b=2`) with the next line
# into one command; a `;` after such a line (no change to its validity) keeps them apart.
_VALUE = rb"""(?:"[^"\n]*"|'[^'\n]*'|[^\s;&|<>()`'"\\])*"""
_ASSIGNMENTS_LINE = re.compile(
    rb"(?m)^([ \t]*(?:[A-Za-z_]\w*=" + _VALUE + rb"[ \t]+)+[A-Za-z_]\w*=" + _VALUE + rb")[ \t]*$"
)
# `(` inside a word is a syntax error unless it opens an extglob pattern (@( !( ?( *( +().
_GLUED_PAREN = regex.compile(r"(?<![@!?*+\\])\(")


@functools.cache
def _query() -> tree_sitter.Query:
    return tree_sitter.Query(grammar("bash"), _QUERY)


def _in_backticks(data: bytes, node: tree_sitter.Node) -> bool:
    """tree-sitter-bash parses `...` substitutions loosely: no rule is applied inside one."""
    parent = node.parent
    while parent is not None:
        if (
            parent.type == "command_substitution"
            and data[parent.start_byte : parent.start_byte + 1] == b"`"
        ):
            return True
        parent = parent.parent
    return False


def _violations(data: bytes, root: tree_sitter.Node) -> list[tuple[int, str]]:
    def text(node: tree_sitter.Node) -> str:
        return data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    captures = {
        key: [n for n in nodes if not _in_backticks(data, n)]
        for key, nodes in tree_sitter.QueryCursor(_query()).captures(root).items()
    }
    found: list[tuple[int, str]] = []
    for node in captures.get("name", []):
        found.append((node.start_byte, f"unexpected reserved word {text(node)!r}"))
    for node in captures.get("subshell", []):
        name = node.parent.child_by_field_name("name") if node.parent is not None else None
        if name is None or text(name) not in ("time", "coproc"):  # `time ( ... )` is valid
            found.append((node.start_byte, "unexpected '(' after a command word"))
    for node in captures.get("test_body", []):
        if not text(node).startswith("[["):
            found.append((node.start_byte, "a function body must be a compound command"))
    for node in captures.get("case_end", []):
        if node.parent is None or node.parent.type != "case_item":
            found.append((node.start_byte, "unexpected ';;' outside a case"))
    for node in captures.get("word", []):
        glued = _GLUED_PAREN.search(text(node))
        if glued is not None:
            offset = len(text(node)[: glued.start()].encode("utf-8", "surrogatepass"))
            found.append((node.start_byte + offset, "unexpected '(' in a word"))
    return found


def _confirmed(data: bytes, found: list[tuple[int, str]]) -> tuple[int, str] | None:
    """The first violation that fresh parses, started a few lines earlier, all confirm.

    tree-sitter-bash sometimes misreads valid code after an odd construct (an empty
    assignment before a blank line, a backtick substitution) and then sees, say, `do` or
    `done` as command names. A violation bash would report is still there when the parse
    starts at its own line or up to `CONFIRM_LINES` before it; one that came from a misread
    disappears in some of those parses. Parses with an error before the violation (a start
    inside a heredoc or a string) prove nothing and are not counted.
    """
    for offset, message in sorted(found):
        starts = [data.rfind(b"\n", 0, offset) + 1]
        for _ in range(CONFIRM_LINES):
            if starts[-1] == 0:
                break
            starts.append(data.rfind(b"\n", 0, starts[-1] - 1) + 1)
        verdicts = []
        for start in starts:
            tree = parse_tree("bash", data[start:])
            error = tree_error("bash", data[start:], tree)
            if error is not None and _offset(data[start:], error) + start < offset:
                continue
            again = _violations(data[start:], tree.root_node)
            verdicts.append(any(start + at == offset for at, _ in again))
        if verdicts and all(verdicts):
            return offset, message
    return None


def _offset(data: bytes, issue: SyntaxIssue) -> int:
    """Byte offset of the start of an issue's line (enough to order it before a violation)."""
    at = 0
    for _ in range(issue.line - 1):
        at = data.find(b"\n", at) + 1
    return at


def issue(code: str) -> SyntaxIssue | None:
    """The first syntax error of shell `code`: tree-sitter's, then bash's rules above."""
    data = _ASSIGNMENTS_LINE.sub(rb"\1;", source_bytes(code))
    tree = parse_tree("bash", data)
    error = tree_error("bash", data, tree)
    if error is not None:
        return error
    confirmed = _confirmed(data, _violations(data, tree.root_node))
    if confirmed is None:
        return None
    offset, message = confirmed
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return SyntaxIssue(parser_name("bash"), message, line, column)
