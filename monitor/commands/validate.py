"""`canary validate`: config, probe and web config files in, `file:line: field: message` out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.config import LoadedConfig, load_config
from monitor.config.probes import load_suite
from monitor.config.yamlsource import format_path, load_document
from monitor.errors import ConfigError, ConfigProblem
from monitor.plan import make_plan
from monitor.web.web_config import WEB_CONFIG_KEYS, load_web_config


def check_files(
    files: Sequence[Path], *, read_secrets: bool = True
) -> tuple[list[ConfigProblem], list[str]]:
    """Every problem in `files` (a config file also validates the probe files and the web
    config it names), and for each valid config file a note per probe a target will skip
    because its API lacks what the probe needs (not an error: the daemon runs the rest; see
    `monitor.servable`). Each file is loaded once.

    `read_secrets=False` checks structure only (see `load_config`): no key or credentials
    file is read, and a note names each unset variable whose fields were not checked."""
    problems: list[ConfigProblem] = []
    notes: list[str] = []
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
                loaded = load_config(path, read_secrets=read_secrets)
                web_config = loaded.config.server.web_config_file
                if web_config is not None and read_secrets:
                    load_web_config(path.parent / web_config)
                notes += _unchecked_notes(path, loaded)
                notes += _skip_notes(path, loaded)
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems, notes


def validate_files(files: Sequence[Path], *, read_secrets: bool = True) -> list[ConfigProblem]:
    """Every problem in `files` (see `check_files`)."""
    return check_files(files, read_secrets=read_secrets)[0]


def _unchecked_notes(path: Path, loaded: LoadedConfig) -> list[str]:
    return [
        f"{path}: note: {var} is not set; not checked: {', '.join(map(format_path, fields))}"
        for var, fields in loaded.unchecked.items()
    ]


def _skip_notes(path: Path, loaded: LoadedConfig) -> list[str]:
    return [
        f"{path}: note: {planned.target.name} skips {planned.whole.suite}/{skip.probe}:"
        f" {skip.reason}"
        for planned in make_plan(loaded).suites
        for skip in planned.skipped
    ]
