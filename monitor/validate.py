"""`canary validate`: config, probe and web config files in, `file:line: field: message` out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.config import load_config
from monitor.errors import ConfigError, ConfigProblem
from monitor.probes import load_suite
from monitor.servable import servable
from monitor.webconfig import WEB_CONFIG_KEYS, load_web_config
from monitor.yamlsource import load_document


def skip_notes(files: Sequence[Path]) -> list[str]:
    """For valid config files: each probe a target will skip because its API lacks what the
    probe needs (not an error: the daemon runs the rest; see `monitor.servable`)."""
    notes: list[str] = []
    for path in files:
        try:
            doc = load_document(path, substitute_env=False)
            if not isinstance(doc.data, dict) or "targets" not in doc.data:
                continue
            loaded = load_config(path)
        except ConfigError:
            continue
        for binding, suite in loaded.bindings:
            for target in loaded.targets_for(binding):
                for skip in servable(target, binding, suite)[1]:
                    notes.append(
                        f"{path}: note: {target.name} skips {suite.suite}/{skip.probe}:"
                        f" {skip.reason}"
                    )
    return notes


def validate_files(files: Sequence[Path]) -> list[ConfigProblem]:
    """Every problem in `files`; a config file also validates the probe files and the web
    config it names."""
    problems: list[ConfigProblem] = []
    for path in files:
        try:
            doc = load_document(path, substitute_env=False)
            is_probe_file = (
                isinstance(doc.data, dict) and "probes" in doc.data and "targets" not in doc.data
            )
            is_web_config = isinstance(doc.data, dict) and bool(doc.data.keys() & WEB_CONFIG_KEYS)
            if is_probe_file:
                load_suite(path)
            elif is_web_config:
                load_web_config(path)
            else:
                web_config = load_config(path).config.server.web_config_file
                if web_config is not None:
                    load_web_config(path.parent / web_config)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems
