"""Latency of `code_syntax` per block, per language, on real code (and on hostile blocks).

    python bench/detectors_syntax.py [--quick] [--json]

`run(quick)` is the entry point `bench/detectors.py` calls. Blocks are the clean replies of
the code corpus (`bench/quality/corpus/code_corpus.py`, built on first use; `quick` builds a smaller
one when none is cached): real snippets from CPython, npm packages, Debian packages and the
Go standard library, each in its own reply.
Each reply is judged `repeat` times and its fastest time kept (the others measure the
machine, not the detector); the table gives the median and p99 of those per language. Hostile
blocks (deep nesting, code just under the size cap, 1 MB) show the bounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.config.expectation import Expectation
from monitor.detectors import code_syntax
from monitor.types import Reply

_UNDER_CAP = 190_000  # just under code_syntax.MAX_CODE_CHARS: parsed, not refused
_HOSTILE = {
    "python, 60k nested brackets": ("python", "x = " + "(" * 60_000 + ")" * 60_000),
    "yaml, 999 nested flow levels": ("yaml", "a: " + "[" * 999 + "]" * 999),
    "json, 190 kB": ("json", "[" + ", ".join(['{"k": [1, 2, "three"]}'] * 8_000) + "]"),
    "python, 190 kB": ("python", "def f(x):\n    return [i * 2 for i in range(x)]\n" * 4_100),
    "javascript, 190 kB": ("javascript", "const f = (x) => x.map((i) => i * 2);\n" * 5_000),
    "bash, 190 kB": ("bash", 'for f in *.txt; do echo "$f" | tr a-z A-Z; done\n' * 3_900),
    "rust, 190 kB": ("rust", "fn f(x: &[i32]) -> i32 { x.iter().map(|v| v * 2).sum() }\n" * 3_300),
    "sql, 190 kB": ("sql", "SELECT a, b FROM t WHERE x = 1 AND y IN (1, 2, 3);\n" * 3_700),
    "python, 1 MB (refused)": ("python", "x = 1\n" * 170_000),
}


def _time(reply: Reply, expect: Expectation, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        code_syntax.check(reply, expect)
        best = min(best, time.perf_counter() - started)
    return best


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(quick: bool) -> dict[str, Any]:
    """Per-language median and p99 latency (ms) of one reply's check, and hostile blocks."""
    from bench.quality.corpus import code_corpus

    per_language = 60 if quick else 250
    repeat = 2 if quick else 5
    size = code_corpus.PER_LANGUAGE if code_corpus.cached() or not quick else 120
    records = [r for r in code_corpus.load(size) if r["label"] == "clean"]
    by_language: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for record in records:
        language = record["language"]
        if counts.get(language, 0) >= per_language:
            continue
        counts[language] = counts.get(language, 0) + 1
        reply = Reply(text=record["text"], finish_reason=None)
        expect = Expectation.model_validate(record["expect"])
        by_language.setdefault(language, []).append(_time(reply, expect, repeat))
    languages = {
        lang: {
            "blocks": len(times),
            "median_ms": round(1000 * statistics.median(times), 3),
            "p99_ms": round(1000 * _quantile(times, 0.99), 3),
            "max_ms": round(1000 * max(times), 3),
        }
        for lang, times in sorted(by_language.items())
    }
    hostile = {}
    for name, (language, code) in _HOSTILE.items():
        reply = Reply(text=f"```{language}\n{code}\n```", finish_reason=None)
        started = time.perf_counter()
        check = code_syntax.check(reply, Expectation(code_language=language))
        outcome = None if check is None else check.evidence["outcome"]
        hostile[name] = {"ms": round(1000 * (time.perf_counter() - started), 1), "outcome": outcome}
    return {"detector": "code_syntax", "quick": quick, "languages": languages, "hostile": hostile}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("| language | blocks | median ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- |")
    for lang, row in result["languages"].items():
        print(
            f"| {lang} | {row['blocks']} | {row['median_ms']} | {row['p99_ms']} | {row['max_ms']} |"
        )
    print("\n| hostile block | ms | outcome |\n| --- | --- | --- |")
    for name, row in result["hostile"].items():
        print(f"| {name} | {row['ms']} | {row['outcome']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
