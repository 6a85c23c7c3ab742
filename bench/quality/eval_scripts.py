"""Recall and false-positive rate of `unexpected_script` (and `suspicious_format`) by kind.

    python bench/quality/eval_scripts.py                # the corpus (seeded), then tables
    python bench/quality/eval_scripts.py --json         # the same numbers, machine-readable
    python bench/quality/eval_scripts.py --corpus F.jsonl  # a corpus from scripts_corpus
    python bench/quality/eval_scripts.py --misses 5     # up to 5 wrong verdicts per kind

Targets (issue 4): recall >= 0.99 on corruptions; false-positive rate <= 0.5 % over all clean
replies and <= 1 % on every hard-negative kind. Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.quality.corpus.scripts_corpus import SEED, Item, build
from monitor.config.expectation import Expectation
from monitor.detectors import format_chars, scripts
from monitor.types import Reply

MIN_RECALL = 0.99
MAX_FPR = 0.005
MAX_FPR_PER_KIND = 0.01


@dataclass(frozen=True, slots=True)
class KindResult:
    group: str
    kind: str
    n: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.n if self.n else 0.0


def judge(
    items: Iterable[Item],
) -> tuple[list[KindResult], list[KindResult], dict[str, list[Item]]]:
    """(unexpected_script results, suspicious_format results, wrong verdicts) by kind."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    formats: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    wrong: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        reply = Reply(text=item.text, finish_reason=None)
        expect = Expectation.model_validate(item.expect)
        result = scripts.check(reply, expect)
        fmt = format_chars.check(reply, expect)
        assert result is not None and fmt is not None
        fmt_cell = formats[(item.group, item.kind)]
        fmt_cell[0] += 1
        fmt_cell[1] += not fmt.passed
        if item.group == "format":
            continue
        cell = counts[(item.group, item.kind)]
        cell[0] += 1
        cell[1] += not result.passed
        if result.passed == (item.label == "corrupt"):
            wrong[item.kind].append(item)
    table = [KindResult(g, k, n, f) for (g, k), (n, f) in counts.items()]
    fmt_table = [KindResult(g, k, n, f) for (g, k), (n, f) in formats.items()]
    return table, fmt_table, wrong


def summary(table: Sequence[KindResult]) -> dict[str, Any]:
    positives = [r for r in table if r.group == "corruption"]
    negatives = [r for r in table if r.group != "corruption"]
    hard = [r for r in negatives if r.group == "hard_negative"]
    caught = sum(r.flagged for r in positives)
    total_pos = sum(r.n for r in positives)
    false = sum(r.flagged for r in negatives)
    total_neg = sum(r.n for r in negatives)
    worst_recall = min(positives, key=lambda r: r.rate)
    worst_fpr = max(negatives, key=lambda r: r.rate)
    recall = caught / total_pos
    fpr = false / total_neg
    met = (
        recall >= MIN_RECALL
        and all(r.rate >= MIN_RECALL for r in positives)
        and fpr <= MAX_FPR
        and all(r.rate <= MAX_FPR_PER_KIND for r in negatives)
    )
    return {
        "replies": total_pos + total_neg,
        "corrupted": total_pos,
        "clean": total_neg,
        "hard_negatives": sum(r.n for r in hard),
        "hard_negative_kinds": len(hard),
        "recall": recall,
        "fpr": fpr,
        "worst_recall": {"kind": worst_recall.kind, "recall": worst_recall.rate},
        "worst_fpr": {"kind": worst_fpr.kind, "fpr": worst_fpr.rate},
        "targets_met": met,
    }


def _rows(table: Sequence[KindResult], group_order: Sequence[str]) -> list[KindResult]:
    return sorted(table, key=lambda r: (group_order.index(r.group), r.kind))


def render(
    table: Sequence[KindResult], fmt_table: Sequence[KindResult], facts: dict[str, Any]
) -> str:
    lines = ["unexpected_script", f"{'group':<14} {'kind':<24} {'n':>5} {'flagged':>8} {'rate':>8}"]
    for r in _rows(table, ["corruption", "hard_negative", "clean"]):
        metric = "recall" if r.group == "corruption" else "FPR"
        lines.append(f"{r.group:<14} {r.kind:<24} {r.n:>5} {r.flagged:>8} {r.rate:>8.2%} {metric}")
    lines.append(
        f"\n{facts['replies']} replies ({facts['corrupted']} corrupted, {facts['clean']} clean, "
        f"of which {facts['hard_negatives']} hard negatives in {facts['hard_negative_kinds']} "
        "kinds)\n"
        f"recall {facts['recall']:.4f} (worst {facts['worst_recall']['kind']} "
        f"{facts['worst_recall']['recall']:.4f}); FPR {facts['fpr']:.4%} (worst "
        f"{facts['worst_fpr']['kind']} {facts['worst_fpr']['fpr']:.2%}); "
        f"targets {'met' if facts['targets_met'] else 'MISSED'}"
    )
    fmt_pos = [r for r in fmt_table if r.group == "format"]
    fmt_neg = [
        r for r in fmt_table if r.group in ("clean", "hard_negative") and r.kind != "format_chars"
    ]
    lines.append("\nsuspicious_format")
    for r in sorted(fmt_pos, key=lambda r: r.kind):
        lines.append(f"{'format':<14} {r.kind:<24} {r.n:>5} {r.flagged:>8} {r.rate:>8.2%} recall")
    for r in sorted(fmt_neg, key=lambda r: -r.rate)[:8]:
        lines.append(f"{r.group:<14} {r.kind:<24} {r.n:>5} {r.flagged:>8} {r.rate:>8.2%} FPR")
    flagged = sum(r.flagged for r in fmt_neg)
    lines.append(
        f"suspicious_format FPR over all other replies: {flagged}/{sum(r.n for r in fmt_neg)}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a JSONL corpus (default: build one)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", type=int, default=0, help="wrong verdicts to show per kind")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.corpus:
        with open(args.corpus, encoding="utf-8") as handle:
            items = [Item(**json.loads(line)) for line in handle if line.strip()]
    else:
        items = build(args.seed, args.scale)
    built = time.perf_counter()
    table, fmt_table, wrong = judge(items)
    facts = summary(table)
    facts["build_s"] = round(built - started, 2)
    facts["judge_s"] = round(time.perf_counter() - built, 2)
    if args.json:
        facts["kinds"] = [
            {"group": r.group, "kind": r.kind, "n": r.n, "flagged": r.flagged, "rate": r.rate}
            for r in _rows(table, ["corruption", "hard_negative", "clean"])
        ]
        facts["format_kinds"] = [
            {"group": r.group, "kind": r.kind, "n": r.n, "flagged": r.flagged, "rate": r.rate}
            for r in fmt_table
        ]
        print(json.dumps(facts, indent=2))
    else:
        print(render(table, fmt_table, facts))
        print(f"(built in {facts['build_s']} s, judged in {facts['judge_s']} s)")
    for kind, missed in sorted(wrong.items()):
        for item in missed[: args.misses]:
            result = scripts.check(
                Reply(text=item.text, finish_reason=None), Expectation.model_validate(item.expect)
            )
            evidence = result.evidence if result else {}
            print(f"--- {kind} {item.id} {item.meta}", file=sys.stderr)
            print(json.dumps(evidence.get("runs", [])[:3], ensure_ascii=False), file=sys.stderr)
    return 0 if facts["targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
