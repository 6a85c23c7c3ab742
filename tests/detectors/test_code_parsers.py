"""code_parsers: each language's grammar plus the rules tree-sitter's error recovery skips."""

from __future__ import annotations

import pytest

from monitor.detectors.code_parsers import Target, judge
from monitor.detectors.code_parsers.ecma import regex_error


@pytest.mark.parametrize(
    ("language", "code", "message"),
    [
        # ECMAScript rules on top of tree-sitter (each a V8 or tsc syntax error)
        ("javascript", "f(a,, b);", "unexpected ','"),
        ("javascript", "g(, c);", "unexpected ','"),
        ("javascript", "function (x) {}", "anonymous function"),
        ("javascript", "{ finally\n  try {} finally {} }", "reserved word 'finally'"),
        ("javascript", "const r = /(?:?:a)b/u;", "nothing to repeat"),
        ("javascript", "const r = /x/gg;", "flags"),
        ("javascript", "let t = a，b;", "U+FF0C"),
        ("typescript", "createNotification('N', value,, undefined);", "unexpected ','"),
        # bash rules (each a `bash -n` syntax error)
        ("bash", "if [ -n x ]; then then\n  echo\nfi", "reserved word 'then'"),
        ("bash", "while true; do do\n  echo\ndone", "reserved word 'do'"),
        ("bash", "usage( 데이터 )\n{\n  echo\n}", "'(' after a command"),
        ("bash", "cleanup () [ -n x ]", "compound command"),
        ("bash", "cleanup ()\n  [ -n x ] && rm x\n}", "reserved word '}'"),
        ("bash", "if [ -f x ];; then\n  echo\nfi", "';;'"),
        # Go and Rust rules (gofmt and rustc)
        ("go", "package p\n\nfunc (Increment) {}", "non-declaration"),
        ("go", "func f(b []byte, v) {}", "missing parameter type"),
        ("rust", "fn f() { assert!(rx.try_recv(').is_err()); }", "character literal"),
        # data languages
        ("json", '{"a": 1 // c\n}', "Expecting"),
        ("yaml", "a:\n  !==! deb x\n  - y", "invalid tag"),
        ("typescript", "type T = A | (() => void) || void;", "'||'"),
        ("go", "package p\nfunc f() { if len(p) == && p[0] == 1 {} }", "'&&'"),
        ("go", "package p\nvar aก้ = 1", "identifier"),
        ("sql", "SELECT (1;", "syntax error"),
    ],
)
def test_rules_catch(language: str, code: str, message: str) -> None:
    """Code that tree-sitter alone accepts but the language rejects is an issue."""
    verdict = judge(code, Target(language))
    assert verdict.issue is not None and message in verdict.issue.message, verdict


@pytest.mark.parametrize(
    ("language", "code", "variant"),
    [
        ("javascript", "export { default as ar } from './ar.js'; o.default; x = { class: 1 };", ""),
        ("javascript", "export default function () {}\n(function () {})();", ""),
        ("javascript", "const r = /^\\p{M}$/u, s = /(?<y>\\d{4})\\k<y>/u, t = /[/\\]]+/;", ""),
        ("javascript", "var let = 1, yield = 2, async = 3; f(a, b,);", ""),
        ("bash", "time ( sleep 1 )\ncoproc ( cat )\nf() [[ -n x ]]\nf() ( echo )", ""),
        ("bash", 'b="$IFS" IFS=:\n  for d in $L; do\n    p=1\n  done', ""),
        (
            "bash",
            "x=`a | while read l; do echo $l; done`\ncase $f in *.txt|*.md) echo doc;; esac",
            "",
        ),
        ("rust", "fn f<'a>(x: &'a str) -> &'a str { 'l: loop { break 'l; } x }", ""),
        ("go", "func f(a, b int, c string) {}\nfunc g(int, string) {}", ""),
        ("json", '{"a": 1, // comment\n "b": [1, 2,], /* x */}', "jsonc"),
        ("json", '{"a": 1}\n{"b": 2}\n', "jsonl"),
        ("yaml", "a: !custom x\nb: !!str y\nc: !<tag:x> z\nd: &a 1\ne: *a", ""),
        ("yaml", "job:\n  <<: *defaults  # anchor defined outside the excerpt", ""),
        (
            "go",
            "var π, 世界 = 1, 2\nfunc f(x *int) bool { return x != nil && *x > 0 || false }",
            "",
        ),
        ("typescript", "type U = | A | B; type I = A & B; let b = x || y && z;", ""),
        ("sql", "\\c mydb\nSELECT 1;\n\\echo done", "postgres"),
        ("sql", ".headers on\nSELECT 1;", "sqlite"),
    ],
)
def test_rules_accept(language: str, code: str, variant: str) -> None:
    """The rules leave valid code alone, including constructs tree-sitter reads loosely."""
    verdict = judge(code, Target(language, variant))
    assert verdict.issue is None, verdict


@pytest.mark.parametrize(
    ("pattern", "flags", "error"),
    [
        ("a{2}?b|c+?", "g", None),
        ("[^]]*", "", None),
        ("(?<name>a)(?=b)(?!c)(?<=d)(?<!e)", "u", None),
        ("a{", "", None),
        ("a{", "u", "lone '{'"),
        ("a**", "", "nothing to repeat"),
        ("*a", "", "nothing to repeat"),
        ("(a", "", "unterminated group"),
        ("a)", "", "unmatched ')'"),
        ("[abc", "", "unterminated character class"),
        ("(?x)", "", "invalid group"),
        ("a", "uv", "flags"),
    ],
)
def test_regex_literals(pattern: str, flags: str, error: str | None) -> None:
    """RegExp literals are checked as the ECMAScript Pattern grammar has it."""
    found = regex_error(pattern, flags)
    assert (found is None) if error is None else (found is not None and error in found)


def test_lone_surrogate_is_an_issue() -> None:
    """Text decoded from JSON can hold a lone surrogate: no source file can."""
    verdict = judge("x = '\ud800'", Target("python"))
    assert verdict.issue is not None and "surrogate" in verdict.issue.message


def test_unknown_language_raises() -> None:
    """Only the detector's own languages are parsed; anything else is a caller bug."""
    with pytest.raises(ValueError, match="no parser"):
        judge("x", Target("cobol"))
