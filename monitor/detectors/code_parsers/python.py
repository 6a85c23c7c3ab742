"""Python: CPython's own parser (`ast.parse`), at the grammar version the probe targets.

`feature_version` makes the running parser reject syntax newer than the target (walrus before
3.8, `match` before 3.10...). A target newer than the running interpreter cannot be parsed by
it: on 3.11, PEP 701 f-strings (nested quotes, comments and backslashes in replacement fields)
and PEP 695 type parameters and `type` aliases are syntax errors. For those, and only where
CPython reported an error, tree-sitter-python checks the newer constructs, they are masked out
(same lines and columns), and CPython parses the rest: the verdict on everything else is still
CPython's.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterator

import regex
import tree_sitter

from monitor.detectors.code_parsers.base import SyntaxIssue, grammar

#: The grammar a probe gets when it names no version: the newest this module can check.
LATEST: tuple[int, int] = max((3, 13), sys.version_info[:2])
_RUNNING: tuple[int, int] = (sys.version_info[0], sys.version_info[1])
PARSER = f"cpython-ast {_RUNNING[0]}.{_RUNNING[1]}"
# PEP 695 syntax (`type X = ...`, `def f[T]`, `class C[T]`); PEP 701 shows as f-string errors.
_NEWER_SYNTAX = regex.compile(r"(?m)^\s*type\s+\w+\s*[\[=]|\b(?:def|class)\s+\w+\s*\[")


def _cpython(code: str, version: tuple[int, int]) -> SyntaxIssue | None:
    """CPython's verdict; None when the code parses."""
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence": not an error
            warnings.simplefilter("ignore")
            ast.parse(code, feature_version=min(version, _RUNNING))
    except SyntaxError as exc:  # IndentationError and TabError included
        line = exc.lineno or 1
        column = exc.offset if exc.offset and exc.offset > 0 else 1
        return SyntaxIssue(PARSER, exc.msg, line, column)
    except (ValueError, OverflowError) as exc:  # null bytes (3.11), huge literals
        return SyntaxIssue(PARSER, str(exc)[:200], 1, 1)
    except RecursionError:
        return SyntaxIssue(PARSER, "nesting too deep for the parser", 1, 1)
    except MemoryError:
        return SyntaxIssue(PARSER, "parser ran out of memory (nesting too deep)", 1, 1)
    return None


def _newer_constructs(root: tree_sitter.Node) -> Iterator[tuple[tree_sitter.Node, str]]:
    """3.12+ constructs that the running CPython may reject: (node, how to mask it).

    f-strings are offered outermost-first and only when they contain a replacement field;
    `type` statements and the type-parameter lists of `def` and `class`.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        strings = [c for c in node.children if c.type == "string"]
        if node.type == "string":
            strings = [node]
        if node.type in ("string", "concatenated_string") and any(
            c.type == "interpolation" for s in strings for c in s.children
        ):
            yield node, "expression"  # implicit concatenation is masked as one expression
            continue
        if node.type == "type_alias_statement":
            yield node, "expression"
            continue
        if node.type in ("function_definition", "class_definition"):
            params = node.child_by_field_name("type_parameters")
            if params is not None:
                yield params, "blank"
        stack.extend(reversed(node.children))


def _mask(code: bytes, spans: list[tuple[int, int, str]]) -> str:
    """Replace each byte span by `(0 ... )` or blanks of the same shape, newlines kept.

    Masked code keeps every line, and the columns of everything outside the spans on the lines
    where a span does not start, so CPython's positions still point into the reply.
    """
    out: list[str] = []
    last = 0
    for start, end, how in sorted(spans):
        out.append(code[last:start].decode("utf-8", "replace"))
        text = code[start:end].decode("utf-8", "replace")
        shape = "".join("\n" if ch == "\n" else " " for ch in text)
        if how == "expression":
            shape = "(0" + shape[2:-1] + ")" if len(shape) >= 3 else "0" + shape[1:]
        out.append(shape)
        last = end
    out.append(code[last:].decode("utf-8", "replace"))
    return "".join(out)


def _with_newer_grammar(code: str, error: SyntaxIssue) -> tuple[SyntaxIssue | None, str | None]:
    """Re-judge code that CPython rejected, allowing 3.12+ constructs; (issue, note)."""
    data = code.encode("utf-8", "surrogatepass")
    tree = tree_sitter.Parser(grammar("python")).parse(data)
    if tree.root_node.has_error:
        return error, None
    spans: list[tuple[int, int, str]] = []
    for node, how in _newer_constructs(tree.root_node):
        text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
        if (
            how == "expression"
            and "string" in node.type
            and _cpython(f"({text})", _RUNNING) is None
        ):
            continue  # f-strings the running parser accepts need no help
        spans.append((node.start_byte, node.end_byte, how))
    if not spans:
        return error, None
    issue = _cpython(_mask(data, spans), _RUNNING)
    running = f"{_RUNNING[0]}.{_RUNNING[1]}"
    note = f"{len(spans)} construct(s) newer than Python {running} checked by tree-sitter-python"
    return issue, None if issue is not None else note


def parse(code: str, version: tuple[int, int] = LATEST) -> tuple[SyntaxIssue | None, str | None]:
    """(the first syntax error or None, a note on how the verdict was reached or None)."""
    issue = _cpython(code, version)
    if issue is None or version < (3, 12) or _RUNNING >= (3, 12):
        return issue, None
    if "f-string" not in issue.message and not _NEWER_SYNTAX.search(code):
        return issue, None  # nothing a newer grammar would accept: no second parse
    return _with_newer_grammar(code, issue)
