"""The store URL for PostgreSQL: from ${ENV} or a file (a mounted Secret), never echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError

PROBES = Path(__file__).parent / "testdata" / "probes-ok.yaml"
DSN = "postgresql://canary:s3cret-pw@db.example:5432/canary"


def write(tmp_path: Path, store: str, cluster: str = "") -> Path:
    path = tmp_path / "canary.yaml"
    path.write_text(
        f"store: {store}\n{cluster}"
        "targets:\n  - {platform: p, model: m, api: openai_chat, base_url: 'http://127.0.0.1:1/'}\n"
        f"suites:\n  - file: '{PROBES}'\n"
    )
    return path


def test_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_TEST_DSN", DSN)
    config = load_config(write(tmp_path, "{url: '${CANARY_TEST_DSN}'}")).config
    assert config.store.url == DSN and config.store.postgres


def test_url_from_a_file_enables_cluster_mode(tmp_path: Path) -> None:
    """`url_file` is read relative to the config; cluster mode accepts it; the replica id
    and lease settings are validated."""
    (tmp_path / "dsn").write_text(DSN + "\n")
    cluster = "cluster: {enabled: true, replica_id: pod-0, lease_ttl_s: 10, heartbeat_s: 2}\n"
    config = load_config(write(tmp_path, "{url_file: dsn, pool_size: 8}", cluster)).config
    assert config.store.url == DSN and config.store.pool_size == 8
    assert config.cluster.enabled and config.cluster.replica_id == "pod-0"


def test_a_bad_url_file_is_reported_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "dsn").write_text("mysql://canary:s3cret-pw@db/canary\n")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "{url_file: dsn}"))
    [problem] = info.value.problems
    assert str(problem).endswith(
        f"store.url_file: {tmp_path / 'dsn'} does not hold a sqlite:/// or postgresql:// URL"
    )
    assert "s3cret" not in str(info.value)


def test_an_inline_dsn_is_not_echoed_in_errors(tmp_path: Path) -> None:
    """A wrong field next to a DSN: the error names the field, never the DSN's password."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"{{url: '{DSN}', pool_size: 0}}"))
    assert "store.pool_size" in str(info.value) and "s3cret" not in str(info.value)
