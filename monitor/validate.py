"""`canary validate`: config and probe files in, `file:line: field: message` lines out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.config import load_config
from monitor.errors import ConfigError, ConfigProblem
from monitor.probes import load_suite
from monitor.yamlsource import load_document


def validate_files(files: Sequence[Path]) -> list[ConfigProblem]:
    """Every problem in `files`; a config file also validates the probe files it names."""
    problems: list[ConfigProblem] = []
    for path in files:
        try:
            doc = load_document(path, substitute_env=False)
            is_probe_file = (
                isinstance(doc.data, dict) and "probes" in doc.data and "targets" not in doc.data
            )
            if is_probe_file:
                load_suite(path)
            else:
                load_config(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
