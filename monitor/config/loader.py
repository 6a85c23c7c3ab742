"""Loading the daemon config: targets to probe, suites to run on them, store, server, budgets.

The records themselves are `monitor.config.model` (a leaf); this module reads
them from YAML, validates strictly at load (unknown keys, wrong types and impossible values are
errors that name file, line and field), resolves secrets from the environment or a file (never
inline), and loads the probe suites the config names.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import regex

from monitor.config.dsn import dsn_problem
from monitor.config.files import MAX_SECRET_BYTES, FileProblem, read_bytes, read_text
from monitor.config.model import NO_SECRETS, STORE_URL_PATTERN, Config, SuiteBinding, Target
from monitor.config.probes import ProbeSuite, load_suite
from monitor.config.yamlsource import SourceDocument, format_path, load_document, validate
from monitor.errors import ConfigError, ConfigProblem


class LoadedConfig:
    """A validated config plus the suites it references, loaded from disk together."""

    def __init__(
        self,
        path: Path,
        config: Config,
        suites: dict[str, ProbeSuite],
        *,
        unchecked: dict[str, list[tuple[str | int, ...]]] | None = None,
    ) -> None:
        self.path = path
        self.config = config
        self.suites = suites  # keyed by binding file as written in the config
        # Loaded without secrets: each unset variable and the fields it left unchecked.
        self.unchecked = unchecked or {}
        self.bindings: list[tuple[SuiteBinding, ProbeSuite]] = [
            (binding, suites[binding.file]) for binding in config.suites
        ]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def targets_for(self, binding: SuiteBinding) -> list[Target]:
        if binding.targets is None:
            return list(self.config.targets)
        return [t for t in self.config.targets if any(s.matches(t) for s in binding.targets)]


def load_config(path: Path, *, read_secrets: bool = True) -> LoadedConfig:
    """Load and validate a config file and every probe file it names.

    Raises `ConfigError` listing every problem found, each as `file:line: field: message`.
    With `read_secrets=False` (`canary validate --no-secrets`, for a repository's CI where the
    keys do not exist) no key, URL or credentials file is read and unset `${VAR}`s stand as a
    placeholder: the structure is checked, and the fields that held a variable are not
    (`LoadedConfig.unchecked` lists them by variable).
    """
    doc = load_document(path, allow_unset=not read_secrets)
    unchecked = doc.unchecked_fields()
    config = _validate_checkable(doc, unchecked)
    base = path.parent
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for index, target in enumerate(config.targets):
        if target.name in seen:
            problems.append(
                doc.problem(("targets", index), f"target {target.name} is defined twice")
            )
        seen.add(target.name)
    if read_secrets:
        missing: list[ConfigProblem] = []
        targets = [
            _with_secret(doc, index, t, base, missing) for index, t in enumerate(config.targets)
        ]
        targets = [
            _with_credentials_file(doc, index, t, base, missing) for index, t in enumerate(targets)
        ]
        problems += _once_per_cause(missing)
        config = config.model_copy(update={"targets": targets})
    config = _store_and_cluster(doc, config, base, problems, read_secrets=read_secrets)
    suites: dict[str, ProbeSuite] = {}
    names: dict[str, str] = {}
    for index, binding in enumerate(config.suites):
        if not (base / binding.file).is_file():
            problems.append(
                doc.problem(("suites", index, "file"), f"no such probe file: {base / binding.file}")
            )
            continue
        try:
            suite = load_suite(base / binding.file)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if suite.suite in names and names[suite.suite] != binding.file:
            problems.append(
                doc.problem(("suites", index, "file"), f"suite {suite.suite!r} is bound twice")
            )
        names[suite.suite] = binding.file
        suites[binding.file] = suite
    for index, binding in enumerate(config.suites):
        if binding.targets is not None and not any(
            s.matches(t) for s in binding.targets for t in config.targets
        ):
            problems.append(doc.problem(("suites", index, "targets"), "selects no target"))
    problems = [p for p in problems if p.field not in unchecked]
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(path, config, suites, unchecked=doc.unset)


def _validate_checkable(doc: SourceDocument, unchecked: set[str]) -> Config:
    """`validate(Config, doc)`, but a field that held an unset variable (placeholder) is not
    judged: its problems are dropped, and if it failed, the rest is validated without it."""
    try:
        return validate(Config, doc)
    except ConfigError as exc:
        kept = [p for p in exc.problems if p.field not in unchecked]
        if kept:
            raise ConfigError(kept) from None
        failed = {p.field for p in exc.problems}
    stripped = SourceDocument(doc.file, _without(doc.data, (), failed), doc.lines, doc.unset)
    try:
        return validate(Config, stripped)
    except ConfigError as exc:
        kept = [p for p in exc.problems if p.field not in unchecked]
        raise ConfigError(
            kept or [doc.problem((), f"cannot be checked without {', '.join(doc.unset)}")]
        ) from None


def _without(data: Any, path: tuple[str | int, ...], fields: set[str]) -> Any:
    """`data` less the values at `fields` (as `format_path` writes them)."""
    if isinstance(data, dict):
        return {
            k: _without(v, (*path, k), fields)
            for k, v in data.items()
            if format_path((*path, k)) not in fields
        }
    if isinstance(data, list):
        return [_without(v, (*path, i), fields) for i, v in enumerate(data)]
    return data


def _once_per_cause(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Targets that share one missing secret are one problem at the first, not one each."""
    first: dict[str, ConfigProblem] = {}
    count: dict[str, int] = {}
    for problem in problems:
        first.setdefault(problem.message, problem)
        count[problem.message] = count.get(problem.message, 0) + 1
    return [
        p
        if count[m] == 1
        else dataclasses.replace(p, message=f"{m} (also needed by {count[m] - 1} more target(s))")
        for m, p in first.items()
    ]


def _with_secret(
    doc: SourceDocument, index: int, target: Target, base: Path, problems: list[ConfigProblem]
) -> Target:
    if target.credentials is None:
        return target
    try:
        secret = target.credentials.resolve(base)
    except ValueError as exc:
        problems.append(doc.problem(("targets", index, "credentials"), str(exc)))
        return target
    return target.model_copy(update={"api_key": secret})


def _with_credentials_file(
    doc: SourceDocument, index: int, target: Target, base: Path, problems: list[ConfigProblem]
) -> Target:
    """`credentials_file` relative to the config's directory, made absolute (the daemon's
    working directory may be anywhere); it must be readable at load, not at the first probe."""
    if target.credentials_file is None:
        return target
    path = base / target.credentials_file  # an absolute path stays as written
    try:
        read_bytes(path, max_bytes=MAX_SECRET_BYTES)
    except FileProblem as exc:
        problems.append(
            doc.problem(("targets", index, "credentials_file"), f"{exc}{NO_SECRETS}")
        )
        return target
    return target.model_copy(update={"credentials_file": str(path.absolute())})


def _store_and_cluster(
    doc: SourceDocument,
    config: Config,
    base: Path,
    problems: list[ConfigProblem],
    *,
    read_secrets: bool,
) -> Config:
    """Read `store.url_file`; cluster mode needs a PostgreSQL store."""
    store = config.store
    if store.url_file is not None and read_secrets:
        path = base / store.url_file
        try:
            url = read_text(path, max_bytes=MAX_SECRET_BYTES).strip()
        except FileProblem as exc:
            problems.append(doc.problem(("store", "url_file"), f"{exc}{NO_SECRETS}"))
            return config
        if not regex.match(STORE_URL_PATTERN, url):  # never echo the file: it holds a password
            problems.append(
                doc.problem(
                    ("store", "url_file"), f"{path} does not hold a sqlite:/// or postgresql:// URL"
                )
            )
            return config
        if url.startswith(("postgresql://", "postgres://")) and (problem := dsn_problem(url)):
            problems.append(doc.problem(("store", "url_file"), f"{path}: {problem}"))
            return config
        store = store.model_copy(update={"url": url})
        config = config.model_copy(update={"store": store})
    if config.cluster.enabled and not store.postgres:
        problems.append(
            doc.problem(
                ("cluster", "enabled"),
                "cluster mode needs a PostgreSQL store (store.url: postgresql://...)",
            )
        )
    return config
