"""Score `code_syntax` on the reference-checked code corpus, through `canary detect`'s own core.

    python bench/quality/eval_syntax.py                  # table; exit 1 if a target is missed
    python bench/quality/eval_syntax.py --json           # machine-readable summary
    python bench/quality/eval_syntax.py --misses 20      # show missed corruptions and false alarms
    python bench/quality/eval_syntax.py --input FILE     # score another labelled JSONL corpus

Targets (issue 5): recall >= 0.97 and false-positive rate <= 0.5 % in every language. A reply
counts as flagged when `code_syntax` returns a failed check; no check (nothing judged) is a
miss on a corrupt reply and a non-alarm on a clean one.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.commands.detect import detect_stream

RECALL_TARGET = 0.97
FPR_TARGET = 0.005


def flag(records: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The `code_syntax` check for each record (None when the detector judged nothing)."""
    lines = [
        json.dumps({"id": i, "text": r["text"], "expect": r["expect"]})
        for i, r in enumerate(records)
    ]
    out = io.StringIO()
    detect_stream(lines, out, ["code_syntax"])
    checks: list[dict[str, Any] | None] = [None] * len(records)
    for line in out.getvalue().splitlines():
        result = json.loads(line)
        found = [c for c in result.get("checks", []) if c["detector"] == "code_syntax"]
        checks[result["id"]] = found[0] if found else None
    return checks


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def evaluate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall by language and corruption kind; false-positive rate by language and kind."""
    checks = flag(records)
    tallies: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    misses: list[dict[str, Any]] = []
    for record, check in zip(records, checks, strict=True):
        flagged = check is not None and not check["passed"]
        label, language, kind = record["label"], record["language"], record["kind"]
        hit = flagged if label == "corrupt" else not flagged
        for key in (language, f"{language}:{kind}", f"*:{kind}"):
            tally = tallies[label][key]
            tally[0] += flagged
            tally[1] += 1
        if not hit:
            evidence = None if check is None else check["evidence"]
            misses.append(
                {"id": record.get("id"), "label": label, "language": language, "kind": kind,
                 "reference_error": record.get("reference_error"), "evidence": evidence,
                 "text": record["text"]}
            )  # fmt: skip
    recall = {k: {"rate": _rate(f, n), "n": n} for k, (f, n) in sorted(tallies["corrupt"].items())}
    fpr = {k: {"rate": _rate(f, n), "n": n} for k, (f, n) in sorted(tallies["clean"].items())}
    languages = sorted({r["language"] for r in records})
    met = all(
        (recall.get(lang, {}).get("rate") or 0) >= RECALL_TARGET
        and (fpr.get(lang, {}).get("rate") or 0) <= FPR_TARGET
        for lang in languages
    )
    return {"replies": len(records), "recall": recall, "false_positive_rate": fpr,
            "targets_met": met, "misses": misses}  # fmt: skip


def _table(summary: dict[str, Any]) -> str:
    rows = ["| language | recall | n corrupt | FPR | n clean |", "| --- | --- | --- | --- | --- |"]
    recall, fpr = summary["recall"], summary["false_positive_rate"]
    for key in sorted(k for k in recall if ":" not in k):
        r, f = recall[key], fpr.get(key, {"rate": None, "n": 0})
        rows.append(
            f"| {key} | {r['rate']:.3f} | {r['n']} | {100 * (f['rate'] or 0):.2f} % | {f['n']} |"
        )
    rows += ["", "| corruption kind (all languages) | recall | n |", "| --- | --- | --- |"]
    rows += [
        f"| {k[2:]} | {v['rate']:.3f} | {v['n']} |" for k, v in recall.items() if k.startswith("*:")
    ]
    rows += ["", "| hard-negative kind (all languages) | FPR | n |", "| --- | --- | --- |"]
    rows += [
        f"| {k[2:]} | {100 * v['rate']:.2f} % | {v['n']} |"
        for k, v in fpr.items()
        if k.startswith("*:")
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses")
    parser.add_argument(
        "--input", type=Path, help="a labelled corpus JSONL (default: build/load ours)"
    )
    parser.add_argument("--per-language", type=int, default=None)
    args = parser.parse_args(argv)
    if args.input:
        records = [json.loads(line) for line in args.input.read_text().splitlines() if line]
    else:
        from bench.quality.corpus import code_corpus

        records = code_corpus.load(args.per_language or code_corpus.PER_LANGUAGE)
    summary = evaluate(records)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "misses"}, indent=2))
    else:
        print(_table(summary))
        print(f"\n{summary['replies']} replies; targets met: {summary['targets_met']}")
    for miss in summary["misses"][: args.misses]:
        print(json.dumps(miss, ensure_ascii=False, indent=1)[:2500], file=sys.stderr)
    return 0 if summary["targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
