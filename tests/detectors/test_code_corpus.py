"""code_syntax on the reference-checked corpus: the issue's targets in every language.

The corpus (bench/quality/corpus/code_corpus.py) is real code from pinned packages, each snippet
checked valid by its language's own tool and each corruption checked to break it. It is always
the full corpus (500 replies a language, about 250 corruptions): with 60 a language, as a
quick variant had, one miss moved recall by 1.7 points and the 0.99 target passed or failed
by the draw. A fresh machine builds it first (a few minutes, with the reference tools that
scripts/provision installs), then it is cached outside the repo.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.quality.corpus import code_corpus, code_corrupt, code_replies
from bench.quality.eval_syntax import FPR_TARGET, RECALL_TARGET, evaluate


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return code_corpus.load(code_corpus.PER_LANGUAGE)


def test_corpus_covers_every_language_and_kind(corpus: list[dict[str, Any]]) -> None:
    """Every language, half clean and half corrupt, every corruption and hard-negative kind."""
    by_label = Counter((r["language"], r["label"]) for r in corpus)
    for language in code_corpus.LANGUAGES:
        clean, corrupt = by_label[(language, "clean")], by_label[(language, "corrupt")]
        assert clean > 0 and corrupt >= 0.8 * clean, (language, clean, corrupt)
    kinds = Counter(r["kind"] for r in corpus)
    assert set(code_corrupt.KINDS) <= set(kinds)
    assert set(code_replies.HARD_NEGATIVE_KINDS) <= set(kinds)


def test_targets_in_every_language(corpus: list[dict[str, Any]]) -> None:
    """Recall >= 0.97 and false-positive rate <= 0.5 % in each language."""
    summary = evaluate(corpus)
    failures = []
    for language in code_corpus.LANGUAGES:
        recall = summary["recall"][language]["rate"]
        fpr = summary["false_positive_rate"][language]["rate"]
        if recall < RECALL_TARGET or fpr > FPR_TARGET:
            failures.append(f"{language}: recall {recall:.3f}, FPR {100 * fpr:.2f} %")
    misses = [(m["language"], m["label"], m["kind"], m["evidence"]) for m in summary["misses"]]
    assert not failures, (failures, misses[:10])
