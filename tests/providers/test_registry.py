"""The wire-spec table: one spec per config API name, each complete, and a config that never
imports the providers to check `api:`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.config.model import API_NAMES
from monitor.providers import WIRE_SPECS
from monitor.providers.wire import Capabilities, WireSpec


def test_specs_cover_exactly_the_config_api_names() -> None:
    """Every name `api:` accepts has a spec, and every spec is a name `api:` accepts."""
    assert sorted(WIRE_SPECS) == sorted(API_NAMES)
    assert len(API_NAMES) == len(set(API_NAMES))


@pytest.mark.parametrize("api", sorted(WIRE_SPECS))
def test_every_spec_is_complete(api: str) -> None:
    """Each spec is filed under its own name, streams (an assembler) and says what it serves."""
    spec = WIRE_SPECS[api]
    assert isinstance(spec, WireSpec) and spec.name == api
    assert callable(spec.assemble_stream) and callable(spec.parse)
    assert isinstance(spec.capabilities, Capabilities)


@pytest.mark.parametrize("module", ["monitor.config.model", "monitor.config"])
def test_config_never_imports_providers(module: str) -> None:
    """Loading the config model (or the loader) pulls in no provider, store or scheduler."""
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.startswith(('monitor.providers', "
        "'monitor.store', 'monitor.scheduler', 'monitor.daemon', 'monitor.runner'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
