"""JavaScript and TypeScript: tree-sitter's grammar plus the ECMAScript rules it leaves out.

tree-sitter grammars are written to keep going on broken code, so they accept a few things
that V8 and the TypeScript compiler reject as syntax errors. On a tree without ERROR nodes this
module applies those rules of the ECMAScript specification:

- lexical: a non-ASCII character outside literals must be part of an identifier (ID_Start,
  ID_Continue) or a Zs space; tree-sitter takes any non-ASCII run as an identifier, so
  `f(a，b)` and `“x”` would parse;
- reserved words (`finally`, `return`...) cannot be identifiers;
- a statement cannot start with an anonymous `function` or `class` expression;
- arguments have no holes (`f(a,, b)`, `f(, b)`);
- `||` and `&&` are single tokens: tree-sitter may split them where they cannot stand;
- regular-expression literals: flags, and the structure of the pattern (groups, classes,
  quantifiers with something to repeat), as the RegExp grammar has it.
"""

from __future__ import annotations

import functools

import regex
import tree_sitter

from monitor.detectors.code_parsers.base import (
    SyntaxIssue,
    grammar,
    parse_tree,
    parser_name,
    position,
    source_bytes,
    tree_error,
)

_IDENTIFIER = regex.compile(r"#?(?:[\p{ID_Start}$_]|\\u)(?:[\p{ID_Continue}$\u200c\u200d]|\\u)*")
_ID_CHAR = regex.compile(r"[\p{ID_Continue}$\u200c\u200d]")
_SPACE = regex.compile(r"[\p{Zs}\ufeff\u2028\u2029]")
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")
_LITERALS = frozenset(
    {
        "string", "string_fragment", "template_string", "comment", "html_comment", "regex",
        "regex_pattern", "jsx_text", "hash_bang_line", "escape_sequence", "jsx_attribute",
    }
)  # fmt: skip
_RESERVED = frozenset(
    {
        "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete",
        "do", "else", "enum", "export", "extends", "false", "finally", "for", "function", "if",
        "import", "in", "instanceof", "new", "null", "return", "super", "switch", "this",
        "throw", "true", "try", "typeof", "var", "void", "while", "with",
    }
)  # fmt: skip
_QUERY = (
    """
(regex pattern: (regex_pattern) @pattern flags: (regex_flags)? @flags)
(arguments "(" . "," @hole)
(arguments "," . "," @hole)
(expression_statement . [(function_expression) (generator_function) (class)] @anonymous)
["|" "&"] @single
((identifier) @identifier (#any-of? @identifier """
    + " ".join(f'"{word}"' for word in sorted(_RESERVED))
    + "))"
)
_GROUP = regex.compile(r"\(\?(?::|=|!|<=|<!|<[\p{ID_Start}$_][\p{ID_Continue}$]*>|[ims-]+:)")
_COUNT = regex.compile(r"\{\d+(?:,\d*)?\}")
_BRACED_ESCAPE = regex.compile(r"\\(?:[pPu]\{[^}]*\}|k<[^>]*>)")


@functools.cache
def _query(name: str) -> tree_sitter.Query:
    return tree_sitter.Query(grammar(name), _QUERY)


def _lexical(code: str, data: bytes, root: tree_sitter.Node) -> tuple[int, str] | None:
    """(offset, message) of the first non-ASCII character ECMAScript's lexer would reject."""
    char_at = byte_at = skip_until = 0
    for run in _NON_ASCII.finditer(code):
        byte_at += len(code[char_at : run.start()].encode("utf-8", "surrogatepass"))
        char_at = run.start()
        if byte_at < skip_until:
            continue
        leaf = root.descendant_for_byte_range(byte_at, byte_at + 1)
        node = leaf
        while node is not None and node.type not in _LITERALS:
            node = node.parent
        if node is not None or leaf is None:
            skip_until = node.end_byte if node is not None else skip_until
            continue
        if leaf.type.endswith("identifier") and leaf.child_count == 0:
            skip_until = leaf.end_byte
            text = data[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
            if _IDENTIFIER.fullmatch(text):
                continue
            bad = next((i for i, ch in enumerate(run.group()) if not _ID_CHAR.match(ch)), 0)
        else:
            bad = next((i for i, ch in enumerate(run.group()) if not _SPACE.match(ch)), -1)
            if bad < 0:
                continue
        char = code[run.start() + bad]
        return run.start() + bad, f"invalid character {char!r} (U+{ord(char):04X})"
    return None


def _flags_error(flags: str) -> str | None:
    if len(set(flags)) != len(flags) or set(flags) - set("dgimsuvy") or {"u", "v"} <= set(flags):
        return f"invalid regular expression flags {flags!r}"
    return None


def _class_end(pattern: str, i: int) -> int:
    """Index just past the `]` closing the class that opens at `i`; -1 when unterminated."""
    i += 2 if pattern.startswith("[^", i) else 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1 if i < len(pattern) else -1


def regex_error(pattern: str, flags: str) -> str | None:  # noqa: PLR0912 (one branch a token)
    """Why a RegExp literal is a syntax error (structure and flags), or None."""
    if _flags_error(flags) or "v" in flags:  # v: set notation nests classes; not checked
        return _flags_error(flags)
    unicode, depth, i, repeatable = "u" in flags, 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        count = _COUNT.match(pattern, i) if char == "{" else None
        if char == "\\":
            braced = _BRACED_ESCAPE.match(pattern, i)
            i, repeatable = (braced.end() if braced else i + 2), True
        elif char == "[":
            i, repeatable = _class_end(pattern, i), True
            if i < 0:
                return "unterminated character class"
        elif char == "(":
            group = _GROUP.match(pattern, i) if pattern.startswith("(?", i) else None
            if pattern.startswith("(?", i) and group is None:
                return "invalid group"
            i, depth, repeatable = (group.end() if group else i + 1), depth + 1, False
        elif char == ")":
            if not depth:
                return "unmatched ')'"
            i, depth, repeatable = i + 1, depth - 1, True
        elif char in "*+?" or count:
            if not repeatable:
                return "nothing to repeat"
            i = count.end() if count else i + 1
            i, repeatable = i + pattern.startswith("?", i), False
        elif char in "|^$":
            i, repeatable = i + 1, False
        elif unicode and char in "{}]":
            return f"lone {char!r}"
        else:
            i, repeatable = i + 1, True
    return "unterminated group" if depth else None


def split_operators(data: bytes, singles: list[tree_sitter.Node]) -> list[tuple[int, str]]:
    """`|` or `&` tokens glued to the same character: the language's lexer reads `||` or
    `&&` there (longest match), which tree-sitter's context-aware lexer split to make the
    parse work (`A | B || C` in a type, `x == && y`)."""
    found = []
    for node in singles:
        char = data[node.start_byte : node.end_byte]
        if data[node.end_byte : node.end_byte + 1] == char:
            found.append((node.start_byte, f"unexpected {(char * 2).decode()!r}"))
    return found


def _text(data: bytes, node: tree_sitter.Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _structural(data: bytes, root: tree_sitter.Node, name: str) -> tuple[int, str] | None:
    """(byte offset, message) of the first rule above that the tree breaks."""
    found: list[tuple[int, str]] = []
    captures = tree_sitter.QueryCursor(_query(name)).captures(root)
    for node in captures.get("identifier", []):
        parent = node.parent.type if node.parent is not None else ""
        word = _text(data, node)
        if parent not in ("export_specifier", "import_specifier"):
            found.append((node.start_byte, f"unexpected reserved word {word!r}"))
    for node in captures.get("anonymous", []):
        message = "a statement cannot start with an anonymous function or class"
        found.append((node.start_byte, message))
    for node in captures.get("hole", []):
        found.append((node.start_byte, "unexpected ',' in arguments"))
    found.extend(split_operators(data, captures.get("single", [])))
    flags = {n.parent.id: _text(data, n) for n in captures.get("flags", []) if n.parent}
    for node in captures.get("pattern", []):
        owner = node.parent.id if node.parent is not None else -1
        error = regex_error(_text(data, node), flags.get(owner, ""))
        if error is not None:
            found.append((node.start_byte, f"invalid regular expression: {error}"))
    return min(found) if found else None


def issue(name: str, code: str) -> SyntaxIssue | None:
    """The first syntax error of JavaScript or TypeScript `code` (grammar `name`)."""
    data = source_bytes(code)
    tree = parse_tree(name, data)
    error = tree_error(name, data, tree)
    if error is not None:
        return error
    lexical = None if code.isascii() else _lexical(code, data, tree.root_node)
    structural = _structural(data, tree.root_node, name)
    if structural is not None:
        offset = len(data[: structural[0]].decode("utf-8", "replace"))
        if lexical is None or offset < lexical[0]:
            lexical = (offset, structural[1])
    if lexical is None:
        return None
    return SyntaxIssue(parser_name(name), lexical[1], *position(code, lexical[0]))
