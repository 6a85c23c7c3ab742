"""code_syntax: real grammars accept modern code and catch the corruptions of the incident."""

from __future__ import annotations

import time
from typing import Any

import pytest

from monitor.config.expectation import Expectation
from monitor.detectors import DETECTORS, code_syntax
from monitor.detectors.code_blocks import LANGUAGE_LABELS
from monitor.types import Check, FinishReason, Reply

ACCEPT: list[tuple[str, str]] = [
    (
        "python",
        "match cmd:\n    case [x, *rest] if (n := len(rest)) > 1:\n        print(n)\n    case _:\n        pass",
    ),
    ("python", "def f(a, /, b, *, c):\n    return f\"{a!r:>{b}} {c['k']}\""),
    ("python", "@decorator(arg)\nasync def g():\n    async with lock:\n        await h()"),
    ("python", 'names = {"a": 1}\nprint(f"{names["a"]} and {"x" + "y"}")'),
    ("python", "type Pair[T] = tuple[T, T]\ndef first[T](p: Pair[T]) -> T:\n    return p[0]"),
    ("python", "s = 'unbalanced ( [ { in a string'  # and ) ] } \" in a comment"),
    (
        "javascript",
        "const v = a?.b?.[c] ?? d;\nclass A { #n = 1; static #m() { return this.#n; } }",
    ),
    (
        "javascript",
        "const re = /[(\\[{]+/gu;\nconst t = `a ${b ? `c` : 'd'} )`;\nfunction* g() { yield* [1]; }",
    ),
    (
        "javascript",
        "const { a, b: [c, ...rest], ...others } = obj;\nexport default async () => await x;",
    ),
    ("javascript", "// it's a comment with ( and '\nlet s = \"}\" + '{' + `[`;\nlet é = 1;"),
    (
        "typescript",
        "enum E { A = 1 }\ninterface I<T> { x?: T }\nconst f = <T,>(a: T): T => a;\nlet v = x as unknown satisfies I<number>;",
    ),
    ("json", '{"a": [1, 2.5e3, null, true], "b": {"c": "(unbalanced [ \\" quote"}}'),
    (
        "yaml",
        "a: &base\n  x: 1\nb:\n  <<: *base\n  run: |\n    echo ${{ github.sha }} (\n  flow: {k: [1, 2]}\n---\n!custom tag: ok\n",
    ),
    (
        "sql",
        'WITH t AS (SELECT 1 AS "Id")\nSELECT "Id"::text FROM t;\nINSERT INTO u VALUES (1) ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n;',
    ),
    ("sql", "CREATE FUNCTION f() RETURNS int AS $$ SELECT ')' $$ LANGUAGE sql;\n\\echo done"),
    ("sql", "INSERT OR REPLACE INTO t(a) VALUES ('it''s');\n.tables"),
    (
        "bash",
        "cat <<'EOF'\nunbalanced ( quote ' here\nEOF\ncase $x in\n  a|b) echo $'tab\\t' ;;\n  *) diff <(ls) <(ls -a) ;;\nesac\n[[ $v =~ ^[0-9]+$ ]] && echo ok",
    ),
    (
        "go",
        "package main\n\nfunc Map[T, U any](xs []T, f func(T) U) []U {\n\tout := make([]U, 0, len(xs))\n\tfor _, x := range xs {\n\t\tout = append(out, f(x))\n\t}\n\treturn out // (\n}",
    ),
    (
        "rust",
        "fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {\n    let c = '(';\n    let r = r#\"raw \" ]\"#;\n    if x.len() > y.len() { x } else { y }\n}",
    ),
]

CATCH: list[tuple[str, str, str]] = [
    ("python", "def f(x):\n    return x，1", "invalid character"),
    ("python", "def f(x):\n    return “x”", "invalid character"),
    ("python", "def f(x):\n    return x การ + 1", "invalid syntax"),
    ("python", "def f(x):\n    return (x + 1", "never closed"),
    ("python", "def f(x):\n  y = 1\n    return y", "unexpected indent"),
    ("python", "def f(x):\n    return x =+= 1", "invalid syntax"),
    ("javascript", "const a = b?.c ??? d;", "unexpected"),
    ("javascript", "function f(a，b) { return a; }", "invalid character"),
    ("javascript", "let s = “hi”;", "invalid character"),
    ("typescript", "function f(x: number: number {}", ""),
    ("json", '{"a": 1,}', "Expecting property name"),
    ("json", '{"a": NaN}', "non-standard"),
    ("yaml", "a: [1, 2\nb: 3", "flow"),
    ("yaml", "a:\n  b: 1\n c: 2", ""),
    ("sql", "SELECT a FROM t WHERE x = = 1;", "syntax error"),
    ("sql", "SELECT a FROM FROM t;", "syntax error"),
    ("bash", "if true; then echo 1", "missing 'fi'"),
    ("bash", "for x in a b; do echo $x", ""),
    ("go", "package main\nfunc main() { fmt.Println(x }", ""),
    ("go", "package main\nvar x = 1 的 2", ""),
    ("rust", "fn main() { let x = 1 }", ""),
    ("rust", "fn main() { let s = “x”; }", ""),
]


def _check(text: str, language: str | None, **expect: Any) -> Check | None:
    reply = Reply(text=text, finish_reason=FinishReason.STOP)
    return code_syntax.check(
        reply, Expectation.model_validate({"code_language": language, **expect})
    )


def _fenced(language: str, code: str) -> str:
    return f"Here's the code (it's short):\n\n```{language}\n{code}\n```\n\nThat's all [1]."


@pytest.mark.parametrize(("language", "code"), ACCEPT)
def test_accepts_modern_valid_code(language: str, code: str) -> None:
    """Modern syntax, brackets and quotes inside literals and prose never fail the check."""
    result = _check(_fenced(language, code), language)
    assert result is not None
    assert result.passed, result.evidence
    assert (result.score, result.evidence["outcome"], result.evidence["language"]) == (
        1.0,
        "valid",
        language,
    )


@pytest.mark.parametrize(("language", "code", "message"), CATCH)
def test_catches_corruption(language: str, code: str, message: str) -> None:
    """Each corruption fails, with language, parser, message, position and excerpt."""
    result = _check(_fenced(language, code), language)
    assert result is not None
    assert not result.passed and result.score == 0.0
    evidence = result.evidence
    assert evidence["outcome"] == "syntax_error"
    assert evidence["language"] == language and evidence["language"] in LANGUAGE_LABELS
    assert message in evidence["message"]
    assert evidence["parser"] and evidence["excerpt"] is not None
    assert evidence["line"] >= 4 and evidence["column"] >= 1


def test_position_is_reply_relative() -> None:
    """Line and column point into the reply, even for a fence indented in a list item."""
    text = "Steps:\n\n1. Save it:\n   ```python\n   def f(x):\n       return x，1\n   ```"
    result = _check(text, "python")
    assert result is not None
    assert (result.evidence["line"], result.evidence["column"]) == (6, 16)
    assert text.split("\n")[5][15] == "，"
    assert result.evidence["excerpt"] == "    return x，1"


def test_truncated_reply_is_its_own_outcome() -> None:
    """A reply that ends inside an open fence is a truncation, with the partial parse error."""
    result = _check("Sure:\n\n```python\ndef f(x):\n    return (x +", "python")
    assert result is not None and not result.passed
    evidence = result.evidence
    assert evidence["outcome"] == "truncated"
    assert evidence["line"] == 5 and evidence["finish_reason"] == "stop"
    assert "never closed" in evidence["parse_error"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("```python\nx = (\n```", None),
        ("No code at all (really).", "python"),
        ("```bash\npip install x\n```\n```text\nerror: ((\n```", "python"),
        ("```\n```", "python"),
        ("```cobol\nDISPLAY 'HI'.\n```", "cobol"),
    ],
)
def test_nothing_to_judge_gives_no_check(text: str, language: str | None) -> None:
    """No code_language, no fenced block, only other-language, empty or unsupported blocks."""
    assert _check(text, language) is None


def test_untagged_blocks_are_judged_as_the_probe_language() -> None:
    """An untagged block is the probe's language; output and other-language blocks are skipped."""
    text = "```\nx = (1,\n```\n```bash\necho ((\n```\n```console\n$ run\n```"
    result = _check(text, "python")
    assert result is not None and not result.passed
    assert (result.evidence["blocks"], result.evidence["skipped_blocks"]) == (1, 2)


def test_javascript_and_typescript_are_one_family() -> None:
    """A TypeScript probe answered in a ```js block is judged, with the JavaScript grammar."""
    result = _check("```js\nlet x = 1;\n```", "typescript")
    assert result is not None and result.passed and result.evidence["language"] == "javascript"


def test_score_is_the_share_of_valid_blocks() -> None:
    """Two blocks, one broken: score 0.5, and the evidence names the broken one."""
    result = _check("```py\nx = 1\n```\n```py\ny = (\n```", "python")
    assert result is not None and not result.passed and result.score == 0.5
    assert result.evidence["block"] == 2


@pytest.mark.parametrize(
    ("code", "version", "passed"),
    [
        ("if (n := 1):\n    pass", "3.7", False),
        ("if (n := 1):\n    pass", "3.8", True),
        ("match x:\n    case 1:\n        pass", "3.9", False),
        ('print(f"{d["k"]}")', "3.11", False),
        ('print(f"{d["k"]}")', "3.12", True),
    ],
)
def test_python_version_is_configurable(code: str, version: str, passed: bool) -> None:
    """`python_version` selects the grammar: newer syntax fails an older target."""
    result = _check(_fenced("python", code), "python", python_version=version)
    assert result is not None and result.passed is passed


@pytest.mark.parametrize(
    ("tag", "dialects", "passed"),
    [
        ("sql", None, True),
        ("sql", ["sqlite"], False),
        ("sql", ["postgres"], True),
        ("sqlite", None, False),
        ("postgresql", ["sqlite"], True),
    ],
)
def test_sql_dialects(tag: str, dialects: list[str] | None, passed: bool) -> None:
    """SQL is valid if any allowed dialect parses it; a dialect tag names the one to use."""
    code = "SELECT x::int FROM t;"
    expect = {} if dialects is None else {"sql_dialects": dialects}
    result = _check(f"```{tag}\n{code}\n```", "sql", **expect)
    assert result is not None and result.passed is passed


@pytest.mark.parametrize(
    "code",
    [
        "x = " + "(" * 100_000 + ")" * 100_000,
        "a: " + "[" * 50_000 + "]" * 50_000,
        "def f():\n    return [i for i in range(10)]\n" * 25_000,
        "é" * 1_000_000,
    ],
)
@pytest.mark.parametrize("language", ["python", "yaml", "javascript", "json", "sql", "bash"])
def test_pathological_blocks_are_bounded(code: str, language: str) -> None:
    """Deep nesting or a megabyte of code returns a verdict quickly and never raises."""
    started = time.perf_counter()
    result = _check(f"```{language}\n{code}\n```", language)
    assert time.perf_counter() - started < 5
    assert result is not None and isinstance(result.passed, bool)


def test_oversized_block_is_reported_not_parsed() -> None:
    """Past MAX_CODE_CHARS the block is not parsed, and the evidence says why."""
    code = "x = 1\n" * (code_syntax.MAX_CODE_CHARS // 6 + 1)
    result = _check(f"```python\n{code}```", "python")
    assert result is not None and not result.passed
    assert result.evidence["outcome"] == "too_large" and "not parsed" in result.evidence["message"]


def test_registered() -> None:
    """The detector is in the registry under its stable name."""
    assert DETECTORS["code_syntax"] is code_syntax.check
