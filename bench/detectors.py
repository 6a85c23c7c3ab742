"""Detector throughput and latency on real replies, one section per detector family.

    python bench/detectors.py            # full run
    python bench/detectors.py --quick    # fewer replies and repeats (a smoke test)
    python bench/detectors.py --json     # the same numbers as JSON on stdout

Section `scripts` (issue 4): `unexpected_script` (and `suspicious_format`, which the daemon
runs on the same replies) over the clean English replies of the evaluation corpus (real man
pages, READMEs, docstrings and code: `bench/quality/corpus/scripts_replies.py`), and over replies in
28 other languages, in one process on one core. In the same run, on the same replies, a naive
per-character `unicodedata` baseline (every character's name, its first word as the script).
Each reply is judged `repeat` times and its fastest time kept, so the figures measure the
detector rather than the machine's other load. Targets: >= 20 MB/s on English replies, >= 10x
the baseline, and no reply under 64 KiB over 5 ms, including replies stitched up to 64 KiB.

Section `syntax`: `bench/detectors_syntax.py`'s `run(quick)`, when that module exists.

Exit 0 when every target is met.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.corpus.scripts_naive import baseline_flags
from bench.quality.corpus.scripts_replies import english_replies, intl_replies
from monitor.config.expectation import Expectation
from monitor.detectors import format_chars, scripts
from monitor.detectors.scripts_sets import language_scripts
from monitor.types import Reply

MIN_MB_S = 20.0
MIN_SPEEDUP = 10.0
MAX_REPLY_MS = 5.0
BIG_REPLY_BYTES = 64 * 1024


def _fastest(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _measure(
    replies: Sequence[tuple[str, str]], judge: Callable[[str, str], object], repeat: int
) -> dict[str, Any]:
    """MB/s, replies/s and per-reply latency (fastest of `repeat`) of one judge."""
    times = [_fastest(functools.partial(judge, text, lang), repeat) for text, lang in replies]
    total_bytes = sum(len(text.encode()) for text, _ in replies)
    total_s = sum(times)
    ordered = sorted(times)
    return {
        "replies": len(replies),
        "mb": round(total_bytes / 1e6, 3),
        "mb_per_s": round(total_bytes / 1e6 / total_s, 1),
        "replies_per_s": round(len(replies) / total_s),
        "p50_ms": round(ordered[len(ordered) // 2] * 1e3, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1e3, 3),
        "max_ms": round(ordered[-1] * 1e3, 3),
    }


def _detector(text: str, language: str) -> None:
    reply = Reply(text=text, finish_reason=None)
    expect = _EXPECT.setdefault(language, Expectation(language=language))
    scripts.check(reply, expect)


def _both(text: str, language: str) -> None:
    reply = Reply(text=text, finish_reason=None)
    expect = _EXPECT.setdefault(language, Expectation(language=language))
    scripts.check(reply, expect)
    format_chars.check(reply, expect)


def _baseline(text: str, language: str) -> None:
    baseline_flags(text, frozenset(language_scripts(language) or ("Latin",)))


_EXPECT: dict[str, Expectation] = {}


def _stitched(texts: Sequence[str], rng: random.Random, count: int) -> list[str]:
    """Replies of just under 64 KiB made of real replies end to end."""
    out = []
    for _ in range(count):
        parts: list[str] = []
        size = 0
        while True:
            piece = texts[rng.randrange(len(texts))]
            if size + len(piece.encode()) + 2 >= BIG_REPLY_BYTES:
                break
            parts.append(piece)
            size += len(piece.encode()) + 2
        out.append("\n\n".join(parts))
    return out


def run_scripts(quick: bool) -> dict[str, Any]:
    """The `scripts` section: throughput, latency, baseline, big replies, targets."""
    rng = random.Random(4)
    english = [r.text for r in english_replies(200 if quick else 1000, random.Random(20250917))]
    intl = [(r.text, r.language) for r in intl_replies(3 if quick else 15, random.Random(7))]
    big = _stitched(english, rng, 5 if quick else 20)
    repeat = 3 if quick else 7
    en = [(t, "en") for t in english]
    result: dict[str, Any] = {
        "english": _measure(en, _detector, repeat),
        "english_both_checks": _measure(en, _both, repeat),
        "english_baseline": _measure(en, _baseline, 1 if quick else 2),
        "other_languages": _measure(intl, _detector, repeat),
        "other_languages_baseline": _measure(intl, _baseline, 1),
        "stitched_64k": _measure([(t, "en") for t in big], _both, repeat),
    }
    speedup = result["english"]["mb_per_s"] / result["english_baseline"]["mb_per_s"]
    result["speedup_vs_baseline"] = round(speedup, 1)
    worst_ms = max(
        result[k]["max_ms"] for k in ("english_both_checks", "other_languages", "stitched_64k")
    )
    result["targets"] = {
        "mb_per_s": result["english"]["mb_per_s"] >= MIN_MB_S,
        "speedup": speedup >= MIN_SPEEDUP,
        "max_reply_ms": worst_ms <= MAX_REPLY_MS,
    }
    return result


def _render_scripts(result: dict[str, Any]) -> str:
    lines = [
        "scripts (unexpected_script; 'both' adds suspicious_format)",
        f"{'set':<26} {'replies':>7} {'MB':>7} {'MB/s':>7} {'replies/s':>10} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}",
    ]
    for name in (
        "english",
        "english_both_checks",
        "english_baseline",
        "other_languages",
        "other_languages_baseline",
        "stitched_64k",
    ):
        r = result[name]
        lines.append(
            f"{name:<26} {r['replies']:>7} {r['mb']:>7} {r['mb_per_s']:>7} "
            f"{r['replies_per_s']:>10} {r['p50_ms']:>7} {r['p99_ms']:>7} {r['max_ms']:>7}"
        )
    targets = result["targets"]
    lines.append(
        f"speedup vs baseline {result['speedup_vs_baseline']}x; targets: "
        + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items())
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"scripts": run_scripts(args.quick)}
    try:
        from bench import detectors_syntax
    except ImportError:
        detectors_syntax = None  # type: ignore[assignment]
    if detectors_syntax is not None:
        report["syntax"] = detectors_syntax.run(args.quick)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_render_scripts(report["scripts"]))
        if "syntax" in report:
            print("\nsyntax (bench/detectors_syntax.py)")
            print(json.dumps(report["syntax"], indent=2))
    return 0 if all(report["scripts"]["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
