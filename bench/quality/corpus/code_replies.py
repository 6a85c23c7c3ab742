"""Replies around corpus snippets, and the hard-negative kinds a clean reply can carry.

A reply is prose, one fenced block of the probe's language, and sometimes more prose or other
blocks, in the shapes models write: fence aliases and variants, untagged blocks, list-item
indentation, output and transcript blocks, other-language blocks. Hard negatives (clean replies
that a naive checker would flag) are named by `HARD_NEGATIVE_KINDS`.
"""

from __future__ import annotations

import ast
import random
import warnings

import regex
import tree_sitter

from bench.quality.corpus.code_corrupt import tokens
from monitor.detectors.code_parsers.base import grammar

HARD_NEGATIVE_KINDS = (
    "plain",
    "modern_syntax",
    "literal_brackets",
    "prose_brackets",
    "output_blocks",
    "fence_variants",
)

TAGS: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3", "py3", ""),
    "javascript": ("javascript", "js", "mjs", "cjs", "node", ""),
    "typescript": ("typescript", "ts", "mts", ""),
    "json": ("json", ""),
    "jsonc": ("jsonc",),
    "yaml": ("yaml", "yml", ""),
    "postgres": ("sql", "postgresql", "postgres", "pgsql", "psql", ""),
    "sqlite": ("sql", "sqlite", "sqlite3", ""),
    "bash": ("bash", "sh", "shell", "zsh", ""),
    "go": ("go", "golang", ""),
    "rust": ("rust", "rs", ""),
}
_EXTENSIONS = {"python": "py", "javascript": "js", "typescript": "ts", "json": "json",
               "yaml": "yml", "sql": "sql", "bash": "sh", "go": "go", "rust": "rs"}  # fmt: skip
_OTHER_BLOCK = {
    "python": ("bash", "pip install requests"),
    "javascript": ("bash", "npm install --save lodash"),
    "typescript": ("bash", "npx tsc --noEmit"),
    "json": ("bash", "curl -s http://localhost:8080/api | jq '.items[0]'"),
    "yaml": ("bash", "kubectl apply -f deploy.yaml"),
    "sql": ("bash", "psql -d app -f schema.sql"),
    "bash": ("python", 'print("done")'),
    "go": ("bash", "go run ./cmd/server"),
    "rust": ("bash", "cargo run --release"),
}
_OUTPUT_BLOCKS = (
    (
        "text",
        'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
        "    print(f(1)\nSyntaxError: '(' was never closed",
    ),
    ("console", "$ ./run.sh\nerror: unexpected '}' at line 3 (col 7\nexit status 1"),
    ("output", "[1, 2, {'a': (3, 4]\ndone: it's 100% [ok"),
    (
        "log",
        "2025-09-01T12:00:01Z ERROR [worker-3] failed {job=42 (retrying\n"
        "2025-09-01T12:00:02Z INFO  ok",
    ),
    ("", "$ npm test\n> app@1.0.0 test\n> node --test"),
)
_INTROS = ("Here is the code:", "Sure. Below is an example.", "The implementation:",
           "This should work:", "Try the following.")  # fmt: skip
_BRACKET_INTROS = (
    "Here's the fix (it's O(n) in the worst case [see below]:",
    "Don't forget the edge case where the input's empty (or None) ;)",
    "Cases: a) empty input, b) one item, c) many items. Here's what I'd write:",
    "Note the `{` on the first line isn't closed in prose like this one [1:",
    "It's the \"simplest\" version (no caching, no retries} that'll do the job:",
)
_OUTROS = ("", "Let me know if you need anything else.", "This runs as is.")
_BRACKET_OUTROS = (
    "That's it (you'll want tests for the edge cases.",
    "Complexity: O(n log n) [dominated by the sort.",
    "Both quotes ' and \" are fine in prose; so are ) and ].",
)

_MODERN_NODES = {
    "javascript": {"optional_chain", "private_property_identifier", "regex", "template_string",
                   "generator_function_declaration", "generator_function", "yield_expression",
                   "object_pattern", "array_pattern", "await_expression", "spread_element",
                   "class_static_block", "field_definition"},
    "bash": {"heredoc_redirect", "case_statement", "ansi_c_string", "process_substitution",
             "regex", "test_command", "array", "arithmetic_expansion"},
    "go": {"type_parameter_list", "raw_string_literal", "func_literal", "go_statement",
           "select_statement", "labeled_statement", "type_switch_statement"},
    "rust": {"lifetime", "closure_expression", "async_block", "await_expression", "try_expression",
             "raw_string_literal", "char_literal", "let_chain", "macro_definition", "where_clause"},
}  # fmt: skip
_MODERN_NODES["typescript"] = _MODERN_NODES["javascript"] | {
    "type_parameters", "enum_declaration", "interface_declaration", "satisfies_expression",
    "as_expression", "decorator", "conditional_type", "mapped_type_clause", "non_null_expression",
}  # fmt: skip
_MODERN_TEXT = {
    "sql": {
        "dollar_quote": r"\$\w*\$",
        "cte": r"(?i)\bwith\s+(?:recursive\s+)?\w+(?:\s*\([^)]*\))?\s+as\s*\(",
        "cast": r"::",
        "quoted_identifier": r'"\w[^"\n]*"',
        "upsert": r"(?i)on\s+conflict|insert\s+or\s+replace|on\s+duplicate",
    },
    "yaml": {
        "block_scalar": r"(?m):\s*[|>][-+]?\d?\s*$",
        "flow": r"(?m):\s*[\[{]",
        "expression": r"\$\{\{|\{\{",
        "anchor": r"(?m)(?:^|\s)[&*][\w-]+",
        "tag": r"(?m)(?:^|\s)![\w!]",
        "multi_document": r"(?m)^---",
    },
    "json": {"nested": r"[\[{][^\]}]*[\[{]", "unicode": r"\\u[0-9a-fA-F]{4}"},
}


def _python_features(code: str) -> set[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {"pep701_or_pep695"}  # valid only for a newer interpreter (checked by it)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Match):
            found.add("match")
        elif isinstance(node, ast.NamedExpr):
            found.add("walrus")
        elif isinstance(node, ast.arguments) and node.posonlyargs:
            found.add("positional_only")
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            found.add("async")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.decorator_list:
            found.add("decorator")
        elif isinstance(node, ast.JoinedStr):
            found.add("f_string")
    return found


def modern_features(language: str, code: str) -> frozenset[str]:
    """Modern-syntax features of a snippet (names of tree-sitter nodes, ast nodes or patterns)."""
    if language == "python":
        return frozenset(_python_features(code))
    if language in _MODERN_TEXT:
        return frozenset(k for k, p in _MODERN_TEXT[language].items() if regex.search(p, code))
    root = tree_sitter.Parser(grammar(language)).parse(code.encode()).root_node
    found: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in _MODERN_NODES[language]:
            found.add(node.type)
        stack.extend(node.children)
    if language == "bash" and "=~" in code:
        found.add("regex_match")
    return frozenset(found)


def _unbalanced(text: str) -> bool:
    pairs = ("()", "[]", "{}")
    return any(text.count(a) != text.count(b) for a, b in pairs) or any(
        text.count(q) % 2 for q in "'\"`"
    )


def literal_brackets(language: str, code: str) -> bool:
    """True when a string or comment holds unbalanced brackets or an odd number of quotes."""
    lexed = "sql" if language == "sql" else language
    for tok in tokens(code, lexed):
        if tok.kind in ("string", "comment"):
            text = code[tok.start : tok.end]
            inner = text[1:-1] if tok.kind == "string" else text
            if _unbalanced(inner):
                return True
    return False


def _fence(
    rng: random.Random, tag: str, code: str, *, unusual: bool, closed: bool, language: str
) -> str:
    char = "~" if unusual and rng.random() < 0.3 else "`"
    length = 4 if unusual and rng.random() < 0.3 else 3
    info = tag
    if unusual and tag:
        ext = _EXTENSIONS[language]
        info = rng.choice(
            [tag, tag.capitalize(), f"{{.{tag}}}", f'{tag} title="example.{ext}"',
             f"language-{tag}", f"example.{ext}"]
        )  # fmt: skip
    indent = "   " if unusual and rng.random() < 0.3 else ""
    body = "\n".join(indent + line if line else line for line in code.split("\n"))
    opening = f"{indent}{char * length}{info}\n{body}"
    return opening + (f"\n{indent}{char * length}" if closed else "")


def compose(
    rng: random.Random,
    language: str,
    dialect: str,
    code: str,
    kind: str,
    *,
    truncated: bool = False,
) -> str:
    """A whole reply around `code`. `kind` is a hard-negative kind (or "corrupt")."""
    tags = TAGS[dialect or language]
    unusual = kind == "fence_variants" or (kind == "corrupt" and rng.random() < 0.2)
    tag = rng.choice(tags)
    bracket_prose = kind == "prose_brackets" or (kind == "corrupt" and rng.random() < 0.2)
    intro = rng.choice(_BRACKET_INTROS if bracket_prose else _INTROS)
    if unusual and rng.random() < 0.5:
        intro = "Steps:\n\n1. Save this:\n"
    parts = [
        intro,
        _fence(rng, tag, code, unusual=unusual, closed=not truncated, language=language),
    ]
    if truncated:
        return "\n\n".join(parts) if not intro.endswith("\n") else intro + "\n" + parts[1]
    if kind == "output_blocks" or (kind == "corrupt" and rng.random() < 0.15):
        other_tag, other = _OTHER_BLOCK[language]
        out_tag, out = rng.choice(_OUTPUT_BLOCKS)
        extra = [f"Run it:\n\n```{other_tag}\n{other}\n```", f"Output:\n\n```{out_tag}\n{out}\n```"]
        rng.shuffle(extra)
        parts.extend(extra)
    outro = rng.choice(_BRACKET_OUTROS if bracket_prose else _OUTROS)
    if outro:
        parts.append(outro)
    return "\n\n".join(parts)
