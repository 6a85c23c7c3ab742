"""Everything an operator writes: the config, probe suites and expectations, checked at load.

`model` holds the config records (a leaf: it imports no provider, store or daemon module),
`loader` reads a config file with its secrets and probe files (`load_config`), `yamlsource`
maps YAML node lines onto validation errors (`file:line: field: message`), `probes` and
`expectation` are the probe-suite models, and `files`, `headers` and `dsn` check what a config
points at before anything uses it. The records and `load_config` are re-exported here.
"""

from __future__ import annotations

from monitor.config.loader import LoadedConfig, load_config
from monitor.config.model import (
    API_NAMES,
    DAY_S,
    MAX_RESPONSE_BYTES,
    MAX_TIMEOUT_S,
    NO_SECRETS,
    STORE_URL_PATTERN,
    AdaptiveConfig,
    ClusterConfig,
    Config,
    Credentials,
    DriftConfig,
    Label,
    Rate,
    ServerConfig,
    StoreConfig,
    SuiteBinding,
    Target,
    TargetDefaults,
    TargetSelector,
)

__all__ = [
    "API_NAMES",
    "DAY_S",
    "MAX_RESPONSE_BYTES",
    "MAX_TIMEOUT_S",
    "NO_SECRETS",
    "STORE_URL_PATTERN",
    "AdaptiveConfig",
    "ClusterConfig",
    "Config",
    "Credentials",
    "DriftConfig",
    "Label",
    "LoadedConfig",
    "Rate",
    "ServerConfig",
    "StoreConfig",
    "SuiteBinding",
    "Target",
    "TargetDefaults",
    "TargetSelector",
    "load_config",
]
