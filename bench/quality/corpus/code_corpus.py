"""Build the code-syntax corpus: real snippets, reference-checked, half clean, half corrupt.

    python -m bench.quality.corpus.code_corpus [--per-language N] [--seed S] [--out FILE]

For each language: candidate snippets from real sources (`code_sources`), each checked valid by
the language's reference tool (`code_reference`); half become clean replies, spread over the
hard-negative kinds (`code_replies`); the other half get one corruption each (`code_corrupt`),
kept only when the same reference tool rejects the corrupted code (for SQL: every default
dialect's tool). Deterministic for a seed and the same pinned sources. The corpus is cached as
JSONL (the `canary detect` input format plus labels) under `cache_dir()`, outside the repo:
`$CANARY_CODE_CORPUS_DIR` or `~/.cache/canary-monitor/code-corpus`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.quality.corpus import code_corrupt, code_replies, code_sources
from bench.quality.corpus.code_reference import Reference, find_python
from bench.quality.corpus.code_sources import Snippet

LANGUAGES = ("python", "javascript", "typescript", "json", "yaml", "sql", "bash", "go", "rust")
SEED = 20250901
PER_LANGUAGE = 500  # replies per language: half clean, half corrupt
VERSION = 1  # bump when the recipe changes, so stale caches are not reused
_CLEAN_QUOTAS = {"modern_syntax": 0.28, "literal_brackets": 0.2, "prose_brackets": 0.14,
                 "output_blocks": 0.12, "fence_variants": 0.12}  # fmt: skip
_ATTEMPTS = 8


def cache_dir() -> Path:
    return Path(
        os.environ.get("CANARY_CODE_CORPUS_DIR", Path.home() / ".cache/canary-monitor/code-corpus")
    )


def _reference_key(s: Snippet) -> tuple[str, str]:
    """(tool language, variant) that validates a snippet."""
    if s.language == "sql":
        return s.variant, ""
    return s.language, s.variant


def _validate(ref: Reference, snippets: list[Snippet]) -> list[Snippet]:
    groups: dict[tuple[str, str], list[Snippet]] = {}
    for s in snippets:
        groups.setdefault(_reference_key(s), []).append(s)
    valid: list[Snippet] = []
    for (tool, variant), group in groups.items():
        if not ref.available(tool):
            continue
        errors = ref.errors(tool, variant, [s.code for s in group])
        valid.extend(s for s, e in zip(group, errors, strict=True) if e is None)
        if tool == "json":  # files with comments: JSONC, if VS Code's parser accepts them
            rest = [s for s, e in zip(group, errors, strict=True) if e is not None]
            jsonc = ref.errors("json", "jsonc", [s.code for s in rest])
            valid.extend(
                Snippet("json", s.code, s.source, "jsonc")
                for s, e in zip(rest, jsonc, strict=True)
                if e is None
            )
    order = {id(s): i for i, s in enumerate(snippets)}
    return sorted(valid, key=lambda s: order.get(id(s), len(order)))


def _broken(ref: Reference, snippet: Snippet, codes: list[str]) -> list[str | None]:
    """The reference's message for each corrupted code (None: still valid, so not kept)."""
    if snippet.language != "sql":
        return ref.errors(*_reference_key(snippet), codes)
    verdicts = [ref.errors(d, "", codes) for d in ("postgres", "sqlite") if ref.available(d)]
    return [
        None if any(v[i] is None for v in verdicts) else verdicts[0][i] for i in range(len(codes))
    ]


def _candidates(
    language: str, rng: random.Random, pythons: dict[int, str], limit: int
) -> list[Snippet]:
    seen: set[str] = set()
    found: list[Snippet] = []
    for s in code_sources.snippets(cache_dir(), language, rng, pythons):
        if s.code not in seen:
            seen.add(s.code)
            found.append(s)
    rng.shuffle(found)
    newer = [s for s in found if s.language == "python" and s.variant != str(sys.version_info[1])]
    return (newer[: limit // 10] + [s for s in found if s not in newer])[:limit]


def _clean_kinds(
    rng: random.Random, language: str, pool: list[Snippet], count: int
) -> Iterator[tuple[Snippet, str]]:
    """Assign hard-negative kinds by quota, preferring snippets that have the feature."""
    pool = list(pool)
    given = 0
    for kind, share in _CLEAN_QUOTAS.items():
        for _ in range(round(share * count)):
            if kind == "modern_syntax":
                match = next(
                    (
                        s
                        for s in pool
                        if code_replies.modern_features(language, s.code) - {"f_string"}
                    ),
                    None,
                )
            elif kind == "literal_brackets":
                match = next(
                    (s for s in pool if code_replies.literal_brackets(language, s.code)), None
                )
            else:
                match = pool[0] if pool else None
            if match is None:
                break
            pool.remove(match)
            given += 1
            yield match, kind
    for s in pool[: count - given]:
        yield s, "plain"


def _record(
    language: str, s: Snippet, label: str, kind: str, text: str, *, reference: str | None = None
) -> dict[str, Any]:
    expect: dict[str, Any] = {"code_language": language}
    return {"text": text, "expect": expect, "language": language, "label": label, "kind": kind,
            "source": s.source, "variant": s.variant, "reference_error": reference}  # fmt: skip


def build_language(
    ref: Reference, language: str, per_language: int, seed: int, pythons: dict[int, str]
) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}-{language}")
    half = per_language // 2
    candidates = _candidates(language, rng, pythons, limit=half * 4)
    valid: list[Snippet] = []
    for start in range(0, len(candidates), half):
        valid += _validate(ref, candidates[start : start + half])
        if len(valid) >= 2 * half + 20:
            break
    clean_pool, corrupt_pool = valid[: len(valid) // 2], valid[len(valid) // 2 :]
    records: list[dict[str, Any]] = []
    clean = list(_clean_kinds(rng, language, clean_pool, half))
    for s, kind in clean:
        text = code_replies.compose(
            rng,
            language,
            s.variant if language in ("sql",) else ("jsonc" if s.variant == "jsonc" else ""),
            s.code,
            kind,
        )
        records.append(_record(language, s, "clean", kind, text))
    pending = [
        (s, code_corrupt.KINDS[i % len(code_corrupt.KINDS)])
        for i, s in enumerate(corrupt_pool[:half])
    ]
    for attempt in range(_ATTEMPTS):
        tries: list[tuple[Snippet, str, str]] = []
        for s, kind in pending:
            use = kind if attempt < _ATTEMPTS // 2 else rng.choice(code_corrupt.KINDS)
            edited = code_corrupt.corrupt(s.code, language, use, rng)
            if edited is not None:
                tries.append((s, use, edited))
        by_key: dict[tuple[str, str], list[int]] = {}
        for i, (s, _, _) in enumerate(tries):
            by_key.setdefault(_reference_key(s), []).append(i)
        failed: dict[int, str | None] = {}
        for indices in by_key.values():
            verdicts = _broken(ref, tries[indices[0]][0], [tries[i][2] for i in indices])
            failed.update(zip(indices, verdicts, strict=True))
        done = set()
        for i, (s, kind, edited) in enumerate(tries):
            if failed[i] is not None and id(s) not in done:
                done.add(id(s))
                dialect = (
                    s.variant if language == "sql" else ("jsonc" if s.variant == "jsonc" else "")
                )
                text = code_replies.compose(
                    rng, language, dialect, edited, "corrupt", truncated=kind == "truncation"
                )
                records.append(_record(language, s, "corrupt", kind, text, reference=failed[i]))
        pending = [(s, k) for s, k in pending if id(s) not in done]
        if not pending:
            break
    return records


def _language_path(language: str, per_language: int, seed: int) -> Path:
    return cache_dir() / f"lang-v{VERSION}-{seed}-{per_language}-{language}.jsonl"


def build(
    per_language: int = PER_LANGUAGE, seed: int = SEED, languages: tuple[str, ...] = LANGUAGES
) -> list[dict[str, Any]]:
    """Build (or load from the per-language cache) every language's records, ids assigned."""
    pythons = {
        m: p
        for m in (11, 12, 13)
        if (p := sys.executable if m == sys.version_info[1] else find_python(m))
    }
    ref: Reference | None = None
    records: list[dict[str, Any]] = []
    for language in languages:
        path = _language_path(language, per_language, seed)
        if not path.exists():
            if ref is None:
                ref = Reference(cache_dir(), pythons)
                ref.ensure_node()
            with ref.postgres() if language == "sql" else contextlib.nullcontext():
                built = build_language(ref, language, per_language, seed, pythons)
            print(
                f"code corpus: {language}: {dict(Counter(r['label'] for r in built))}",
                file=sys.stderr,
            )
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in built))
        records.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    for number, r in enumerate(records):
        r["id"] = f"{r['language']}-{number:05d}"
    return records


def cached(per_language: int = PER_LANGUAGE, seed: int = SEED) -> bool:
    """True when every language of this corpus is already built."""
    return all(_language_path(lang, per_language, seed).exists() for lang in LANGUAGES)


def load(
    per_language: int = PER_LANGUAGE, seed: int = SEED, languages: tuple[str, ...] = LANGUAGES
) -> list[dict[str, Any]]:
    """The corpus, each language built first if its cache file is missing."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    return build(per_language, seed, languages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-language", type=int, default=PER_LANGUAGE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, help="also write the corpus here (JSONL)")
    args = parser.parse_args(argv)
    records = load(args.per_language, args.seed)
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"{len(records)} replies cached in {cache_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
