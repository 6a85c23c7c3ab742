"""Every config and probe error message is pinned: one bad file per case, its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.commands.validate import validate_files
from monitor.config import load_config
from monitor.config.probes import load_suite
from monitor.errors import ConfigError

TESTDATA = Path(__file__).parent / "testdata"

CASES = [
    ("invalid-interval-inf.yaml", "invalid-interval-inf.yaml:8: suites[0].interval_s: must be a finite number"),
    ("invalid-interval-huge.yaml", "invalid-interval-huge.yaml:8: suites[0].interval_s: must be <= 86400"),
    ("invalid-budget-inf.yaml", "invalid-budget-inf.yaml:2: drift.false_pages_per_week: must be a finite number"),
    ("invalid-budget-tiny.yaml", "invalid-budget-tiny.yaml:2: drift.false_pages_per_week: must be >= 0.001"),
    ("invalid-recovery-inf.yaml", "invalid-recovery-inf.yaml:2: drift.recovery_s: must be a finite number"),
    ("invalid-tolerance-nan.yaml", "invalid-tolerance-nan.yaml:2: drift.tolerance: must be a finite number"),
    ("invalid-cutover-huge.yaml", "invalid-cutover-huge.yaml:8: suites[0].context_cutover_tokens: must be an integer"),
    ("invalid-header-name.yaml", "invalid-header-name.yaml:6: targets[0].headers: header name 'X Bad Name' is not an HTTP token"),
    (
        "invalid-header-crlf.yaml",
        "invalid-header-crlf.yaml:6: targets[0].headers: the value of header X-Tenant cannot be sent in an HTTP header: it holds U+000D",
    ),
    ("invalid-keep-header.yaml", "invalid-keep-header.yaml:6: targets[0].keep_headers: header name 'bad header' is not an HTTP token"),
    ("invalid-yaml-nodes.yaml", "invalid-yaml-nodes.yaml: invalid YAML: more than 20000 nodes"),
    (
        "invalid-platform-field.yaml",
        "invalid-platform-field.yaml:2: targets[0]: `region` applies only to api bedrock_*, not openai_chat",
    ),
    (
        "invalid-cloud-credentials.yaml",
        "invalid-cloud-credentials.yaml:2: targets[0]: api bedrock_converse authenticates with the cloud's own credentials; remove `credentials`",
    ),
    (
        "invalid-bedrock-region.yaml",
        "invalid-bedrock-region.yaml:2: targets[0]: `region` is required for api bedrock_converse",
    ),
    (
        "invalid-vertex-project.yaml",
        "invalid-vertex-project.yaml:2: targets[0]: `project` and `location` are required for api vertex_gemini",
    ),
    (
        "invalid-api.yaml",
        "invalid-api.yaml:4: targets[0].api: unknown api 'grpc_magic'; known: anthropic_messages, azure_openai_chat, bedrock_converse, bedrock_invoke, openai_chat, openai_responses, vertex_anthropic, vertex_gemini",
    ),
    (
        "invalid-base-url.yaml",
        "invalid-base-url.yaml:2: targets[0].base_url: must be an http:// or https:// URL",
    ),
    (
        "invalid-both-credentials.yaml",
        "invalid-both-credentials.yaml:6: targets[0].credentials: set `api_key_env` or `api_key_file`, not both",
    ),
    (
        "invalid-concurrency-type.yaml",
        "invalid-concurrency-type.yaml:6: targets[0].concurrency: must be an integer",
    ),
    ("invalid-defaults.yaml", "invalid-defaults.yaml:2: defaults.timeout_s: must be > 0"),
    (
        "invalid-drift.yaml",
        "invalid-drift.yaml:1: drift: `design_failure_rate` must be > `baseline_failure_rate`",
    ),
    (
        "invalid-drift-adaptive.yaml",
        "invalid-drift-adaptive.yaml:3: drift.adaptive.fraction: must be < 1",
    ),
    (
        "invalid-drift-golden.yaml",
        "invalid-drift-golden.yaml:3: drift.golden_failure_rates.core: must be < 1",
    ),
    (
        "invalid-drift-warmup.yaml",
        "invalid-drift-warmup.yaml:1: drift: `warmup_max_s` must be >= `warmup_min_s`",
    ),
    ("invalid-duplicate-key.yaml", "invalid-duplicate-key.yaml:4: targets[0].model: duplicate key"),
    (
        "invalid-duplicate-target.yaml",
        "invalid-duplicate-target.yaml:3: targets[1]: target p/default/m is defined twice",
    ),
    (
        "invalid-env-ref.yaml",
        "invalid-env-ref.yaml:5: targets[0].base_url: environment variable CANARY_TEST_SURELY_UNSET_HOST is not set",
    ),
    (
        "invalid-inline-secret.yaml",
        "invalid-inline-secret.yaml:6: targets[0].api_key: inline secrets are not allowed; use credentials.api_key_env or api_key_file",
    ),
    ("invalid-interval.yaml", "invalid-interval.yaml:5: suites[0].interval_s: must be >= 1"),
    (
        "invalid-label.yaml",
        "invalid-label.yaml:2: targets[0].platform: must be 1 to 63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    ),
    (
        "invalid-missing-model.yaml",
        "invalid-missing-model.yaml:2: targets[0].model: required field is missing",
    ),
    (
        "invalid-missing-credentials-file.yaml",
        "invalid-missing-credentials-file.yaml:7: targets[0].credentials_file: cannot read missing-sa.json: No such file or directory (`canary validate --no-secrets` checks the rest without it)",
    ),
    (
        "invalid-missing-probe-file.yaml",
        "invalid-missing-probe-file.yaml:4: suites[0].file: no such probe file: no-such-probes.yaml",
    ),
    ("invalid-no-targets.yaml", "invalid-no-targets.yaml:1: targets: must have at least 1 item(s)"),
    (
        "invalid-retention.yaml",
        "invalid-retention.yaml:1: store: `retention_failed_days` must be >= `retention_passed_days`",
    ),
    ("invalid-selector.yaml", "invalid-selector.yaml:5: suites[0].targets: selects no target"),
    (
        "invalid-store-url.yaml",
        "invalid-store-url.yaml:2: store.url: must be a sqlite:///path or postgresql:// URL",
    ),
    (
        "invalid-cluster-sqlite.yaml",
        "invalid-cluster-sqlite.yaml:4: cluster.enabled: cluster mode needs a PostgreSQL store (store.url: postgresql://...)",
    ),
    (
        "invalid-cluster-lease.yaml",
        "invalid-cluster-lease.yaml:2: cluster: `lease_ttl_s` must be >= 2 x `heartbeat_s` (one missed heartbeat)",
    ),
    (
        "invalid-cluster-replica.yaml",
        "invalid-cluster-replica.yaml:3: cluster.replica_id: must be 1 to 63 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    ),
    (
        "invalid-store-url-file.yaml",
        "invalid-store-url-file.yaml:2: store.url_file: cannot read no-such-dsn: No such file or directory (`canary validate --no-secrets` checks the rest without it)",
    ),
    (
        "invalid-store-dsn-percent.yaml",
        "invalid-store-dsn-percent.yaml:2: store.url: not a valid PostgreSQL URL: percent-encode reserved characters in the user and password (`%` as %25, `@` as %40, `/` as %2F) and put an IPv6 host in brackets ([::1])"
        " (postgresql://canary:********@db:5432/canary)",
    ),
    (
        "invalid-store-dsn-ipv6.yaml",
        "invalid-store-dsn-ipv6.yaml:2: store.url: not a valid PostgreSQL URL: percent-encode reserved characters in the user and password (`%` as %25, `@` as %40, `/` as %2F) and put an IPv6 host in brackets ([::1])"
        " (postgresql://canary:********@[::1/canary)",
    ),
    (
        "invalid-store-url-and-file.yaml",
        "invalid-store-url-and-file.yaml:1: store: set `url` or `url_file`, not both",
    ),
    ("invalid-timeout.yaml", "invalid-timeout.yaml:6: targets[0].timeout_s: must be > 0"),
    ("invalid-unknown-key.yaml", "invalid-unknown-key.yaml:6: targets[0].timeout: unknown field"),
    (
        "invalid-unset-env-credentials.yaml",
        "invalid-unset-env-credentials.yaml:6: targets[0].credentials: environment variable CANARY_TEST_SURELY_UNSET is not set: export it with the API key, or give the key in a file with credentials.api_key_file (`canary validate --no-secrets` checks the rest without it)",
    ),
    (
        "invalid-yaml-syntax.yaml",
        "invalid-yaml-syntax.yaml:4: invalid YAML: expected ',' or ']', but got ':'",
    ),
    (
        "probes-invalid-answer-two.yaml",
        "probes-invalid-answer-two.yaml:8: probes[0].expect.answer: set exactly one of `exact`, `regex`, `one_of` or `contains`",
    ),
    (
        "probes-invalid-both-prompt.yaml",
        "probes-invalid-both-prompt.yaml:4: probes[0]: set `prompt` or `messages`, not both",
    ),
    (
        "probes-invalid-duplicate-name.yaml",
        "probes-invalid-duplicate-name.yaml:5: probes[1].name: probe name 'same' is used twice",
    ),
    (
        "probes-invalid-expect-key.yaml",
        "probes-invalid-expect-key.yaml:8: probes[0].expect.anwser: unknown field",
    ),
    (
        "probes-invalid-finish.yaml",
        "probes-invalid-finish.yaml:8: probes[0].expect.finish_reason[0]: must be one of 'stop', 'length', 'content_filter', 'tool_calls' or 'other'",
    ),
    (
        "probes-invalid-last-turn.yaml",
        "probes-invalid-last-turn.yaml:4: probes[0]: `messages` must end with a user turn",
    ),
    (
        "probes-invalid-length.yaml",
        "probes-invalid-length.yaml:8: probes[0].expect.length: `min_words` (10) must not exceed `max_words` (5)",
    ),
    (
        "probes-invalid-missing-reason.yaml",
        "probes-invalid-missing-reason.yaml:4: probes[0].reason: required field is missing",
    ),
    (
        "probes-invalid-regex.yaml",
        "probes-invalid-regex.yaml:8: probes[0].expect.answer.regex: invalid regular expression: missing ) at position 9",
    ),
    (
        "probes-invalid-role.yaml",
        "probes-invalid-role.yaml:7: probes[0].messages[0].role: must be one of 'user' or 'assistant'",
    ),
    (
        "probes-invalid-schema.yaml",
        "probes-invalid-schema.yaml:9: probes[0].expect.json.schema: invalid JSON Schema: 12 is not valid under any of the given schemas",
    ),
    (
        "probes-invalid-temperature.yaml",
        "probes-invalid-temperature.yaml:8: probes[0].params.temperature: must be <= 2",
    ),
    ("probes-invalid-version.yaml", "probes-invalid-version.yaml:2: version: must be >= 1"),
]


@pytest.mark.parametrize(("name", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_file_message(name: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`canary validate` reports exactly one pinned file:line: field: message for each bad file."""
    monkeypatch.chdir(TESTDATA)
    monkeypatch.delenv("CANARY_TEST_SURELY_UNSET", raising=False)
    monkeypatch.delenv("CANARY_TEST_SURELY_UNSET_HOST", raising=False)
    assert [str(p) for p in validate_files([Path(name)])] == [message]


def test_every_invalid_file_is_pinned() -> None:
    """A new bad-case file without a pinned message fails, so the table stays complete."""
    on_disk = sorted(p.name for p in TESTDATA.glob("*invalid-*.yaml"))
    assert on_disk == sorted(name for name, _ in CASES)


def test_valid_config_loads_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A minimal config loads, binds its suite to every target and fills documented defaults."""
    monkeypatch.chdir(TESTDATA)
    loaded = load_config(Path("valid.yaml"))
    (target,) = loaded.config.targets
    assert (target.name, target.timeout_s, target.concurrency) == ("p/default/m", 60.0, 4)
    ((binding, suite),) = loaded.bindings
    assert (suite.suite, binding.interval_s, loaded.targets_for(binding)) == ("ok", 60.0, [target])


def test_defaults_fill_unset_target_fields(tmp_path: Path) -> None:
    """`defaults:` values reach targets that leave them unset, and a target's own value wins."""
    (tmp_path / "p.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    (tmp_path / "c.yaml").write_text(
        "defaults: {timeout_s: 7, concurrency: 2}\n"
        "targets:\n"
        "  - {platform: a, model: m, api: openai_chat, base_url: 'http://h/'}\n"
        "  - {platform: b, model: m, api: openai_chat, base_url: 'http://h/', timeout_s: 9}\n"
        "suites: [{file: p.yaml}]\n"
    )
    a, b = load_config(tmp_path / "c.yaml").config.targets
    assert (a.timeout_s, a.concurrency, b.timeout_s, b.concurrency) == (7, 2, 9, 2)


@pytest.mark.parametrize("source", ["env", "file"])
def test_credentials_resolve_and_stay_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """Keys come from the environment or a file, and never print in the model's repr."""
    (tmp_path / "p.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    (tmp_path / "key.txt").write_text("sk-from-file\n")
    monkeypatch.setenv("CANARY_TEST_KEY", "sk-from-env")
    creds = "api_key_env: CANARY_TEST_KEY" if source == "env" else "api_key_file: key.txt"
    (tmp_path / "c.yaml").write_text(
        "targets:\n  - platform: a\n    model: m\n    api: openai_chat\n    base_url: http://h/\n"
        f"    credentials: {{{creds}}}\n"
        "suites: [{file: p.yaml}]\n"
    )
    (target,) = load_config(tmp_path / "c.yaml").config.targets
    assert target.api_key is not None
    assert target.api_key.get_secret_value() == f"sk-from-{source}"
    assert "sk-from" not in repr(target) and "sk-from" not in target.model_dump_json()


def test_env_substitution_with_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`${VAR}` is replaced from the environment and `${VAR:-default}` falls back."""
    (tmp_path / "p.yaml").write_text((TESTDATA / "probes-ok.yaml").read_text())
    monkeypatch.setenv("CANARY_TEST_HOST", "example.test")
    monkeypatch.delenv("CANARY_TEST_PORT", raising=False)
    (tmp_path / "c.yaml").write_text(
        "targets:\n  - {platform: a, model: m, api: openai_chat,"
        " base_url: 'http://${CANARY_TEST_HOST}:${CANARY_TEST_PORT:-8000}/'}\n"
        "suites: [{file: p.yaml}]\n"
    )
    (target,) = load_config(tmp_path / "c.yaml").config.targets
    assert target.base_url == "http://example.test:8000/"


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    """One load reports every problem it finds, not only the first."""
    (tmp_path / "c.yaml").write_text(
        "targets:\n  - {platform: a, model: m, api: nope, base_url: 'http://h/', timeout_s: -1}\n"
        "suites: [{file: p.yaml, interval_s: 0}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml")
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["suites[0].interval_s", "targets[0].api", "targets[0].timeout_s"]


def test_shipped_probe_and_config_files_are_valid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every probe file and the demo config in the repo validate (with the service-account
    file `canary demo` writes into its directory)."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("CANARY_SIM_PORT", "1")
    monkeypatch.setenv("CANARY_DEMO_DIR", str(tmp_path))
    (tmp_path / "vertex-sa.json").write_text("{}")
    files = [*sorted((root / "probes").glob("*.yaml")), root / "config" / "demo.yaml"]
    assert validate_files(files) == []
    assert all(load_suite(p).probes for p in sorted((root / "probes").glob("*.yaml")))
