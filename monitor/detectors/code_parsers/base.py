"""What every code parser returns, and the tree-sitter grammars several of them share.

A parser is judged by one thing: the first syntax error it finds, with a message, a line and a
column in the code it was given (1-based, in characters). Grammars are loaded once per process
(`functools.cache` on immutable `Language` objects, like the validator cache of `json_schema`);
parsers are built per call, so no mutable state is shared between checks.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import tree_sitter


@dataclass(frozen=True, slots=True)
class SyntaxIssue:
    """The first syntax error a parser found: where (1-based line and column) and why."""

    parser: str
    message: str
    line: int
    column: int


_GRAMMAR_MODULES = {
    "python": "tree_sitter_python",
    "javascript": "tree_sitter_javascript",
    "bash": "tree_sitter_bash",
    "go": "tree_sitter_go",
    "rust": "tree_sitter_rust",
}


@functools.cache
def grammar(name: str) -> tree_sitter.Language:
    """The tree-sitter grammar for `name` (python, javascript, typescript, tsx, bash, go, rust)."""
    if name in ("typescript", "tsx"):
        import tree_sitter_typescript

        pointer = (
            tree_sitter_typescript.language_tsx()
            if name == "tsx"
            else tree_sitter_typescript.language_typescript()
        )
        return tree_sitter.Language(pointer)
    if name not in _GRAMMAR_MODULES:
        raise ValueError(f"no tree-sitter grammar for {name!r}")
    return tree_sitter.Language(importlib.import_module(_GRAMMAR_MODULES[name]).language())


def _first_error(root: tree_sitter.Node) -> tree_sitter.Node:
    """The earliest ERROR or MISSING node under `root` (which must have `has_error`)."""
    node = root
    while not (node.is_error or node.is_missing):
        child = next((c for c in node.children if c.has_error), None)
        if child is None:
            return node
        node = child
    return node


def _column(data: bytes, node: tree_sitter.Node) -> int:
    """1-based character column of the node's start (tree-sitter counts bytes)."""
    line_start = node.start_byte - node.start_point.column
    return len(data[line_start : node.start_byte].decode("utf-8", "replace")) + 1


def position(code: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character offset into `code`."""
    offset = max(0, min(offset, len(code)))
    return code.count("\n", 0, offset) + 1, offset - (code.rfind("\n", 0, offset) + 1) + 1


def parser_name(name: str) -> str:
    return f"tree-sitter-{'typescript' if name == 'tsx' else name}"


def parse_tree(name: str, data: bytes) -> tree_sitter.Tree:
    """A tree-sitter parse of UTF-8 `data` with grammar `name`."""
    return tree_sitter.Parser(grammar(name)).parse(data)


def tree_error(name: str, data: bytes, tree: tree_sitter.Tree) -> SyntaxIssue | None:
    """The first ERROR or MISSING node of a tree, as a syntax issue; None for a clean tree."""
    if not tree.root_node.has_error:
        return None
    node = _first_error(tree.root_node)
    if node.is_missing:
        message = f"missing {node.type!r}"
    else:
        leaf = node
        while leaf.child_count:
            leaf = leaf.children[0]
        token = data[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
        token = token.split("\n", 1)[0][:40]
        message = f"unexpected {token!r}" if token else "syntax error"
        if token and node.child_count > 1 and node.end_byte >= len(data.rstrip()):
            message = f"unexpected end of input: {token!r} here is never completed"
    return SyntaxIssue(parser_name(name), message, node.start_point.row + 1, _column(data, node))


def source_bytes(code: str) -> bytes:
    """UTF-8 bytes of `code` ending in a newline, as a source file does (tree-sitter-go needs
    the terminator after a last top-level declaration; a fenced block has none)."""
    return (code if code.endswith("\n") else code + "\n").encode("utf-8", "surrogatepass")


def tree_sitter_issue(name: str, code: str) -> SyntaxIssue | None:
    """Parse `code` with grammar `name`; the first ERROR or MISSING node, or None."""
    data = source_bytes(code)
    return tree_error(name, data, parse_tree(name, data))
