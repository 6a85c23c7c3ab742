"""The issue's targets on the evaluation corpus, so that CI enforces them.

The corpus (`bench/quality/corpus/scripts_corpus.py`, seeded) is built from real text on the machine:
man pages, gettext catalogs, READMEs, standard-library docstrings and source. It takes about
20 s to build and 1 s to judge, once per session.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.quality.corpus.scripts_corpus import Item, build
from bench.quality.corpus.scripts_wordlists import word_lists
from bench.quality.eval_scripts import (
    MAX_FPR,
    MAX_FPR_PER_KIND,
    MIN_RECALL,
    KindResult,
    judge,
    summary,
)


@pytest.fixture(scope="module")
def corpus() -> list[Item]:
    return build()


@pytest.fixture(scope="module")
def results(corpus: list[Item]) -> tuple[list[KindResult], list[KindResult]]:
    table, fmt_table, _ = judge(corpus)
    return table, fmt_table


def test_corpus_is_as_large_and_varied_as_the_issue_asks(corpus: list[Item]) -> None:
    """At least 3,000 replies, 600 hard negatives of 15 kinds, 8 non-English languages and
    corruptions drawn from word lists of 12 scripts."""
    kinds = Counter(item.kind for item in corpus if item.group == "hard_negative")
    languages = {
        item.kind
        for item in corpus
        if item.group == "clean" and not item.kind.startswith("clean_en")
    }
    assert len(corpus) >= 3000
    assert sum(kinds.values()) >= 600 and len(kinds) >= 15
    assert len(languages) >= 8
    assert len({wl.script for wl in word_lists()}) >= 12


def test_recall_and_false_positive_targets(
    results: tuple[list[KindResult], list[KindResult]],
) -> None:
    """Recall >= 0.99 on every corruption kind; FPR <= 0.5 % overall, <= 1 % per kind."""
    table, _ = results
    facts = summary(table)
    low = {r.kind: r.rate for r in table if r.group == "corruption" and r.rate < MIN_RECALL}
    high = {r.kind: r.rate for r in table if r.group != "corruption" and r.rate > MAX_FPR_PER_KIND}
    assert low == {}
    assert high == {}
    assert facts["recall"] >= MIN_RECALL
    assert facts["fpr"] <= MAX_FPR


def test_suspicious_format_catches_invisible_text_and_spares_the_rest(
    results: tuple[list[KindResult], list[KindResult]],
) -> None:
    """Zero-width, bidi, tag and variation-selector insertions are caught; clean replies and
    hard negatives other than the zero-width kind itself pass."""
    _, fmt_table = results
    recall = {r.kind: r.rate for r in fmt_table if r.group == "format"}
    assert recall and min(recall.values()) >= MIN_RECALL
    clean = [
        r for r in fmt_table if r.group in ("clean", "hard_negative") and r.kind != "format_chars"
    ]
    flagged = sum(r.flagged for r in clean)
    assert flagged / sum(r.n for r in clean) <= MAX_FPR
