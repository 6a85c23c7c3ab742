"""The web config loader: the exporter-toolkit shape, every broken file pinned to its message,
and the SSL context it builds."""

from __future__ import annotations

import ssl
from pathlib import Path

import bcrypt
import pytest
import trustme

from monitor.commands.validate import validate_files
from monitor.errors import ConfigError
from monitor.web.web_config import load_web_config
from tests.conftest import PROBES

HASH = bcrypt.hashpw(b"s3cret-password", bcrypt.gensalt(4)).decode()
TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """server.crt/server.key for 127.0.0.1 and clients.crt (a CA), written into tmp_path."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    server.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "clients.crt"))
    (tmp_path / "tokens").write_text("# scraper\nabcdefghijklmnop-0123\n\nqrstuvwxyz-0123456789\n")
    return tmp_path


def write(directory: Path, text: str, name: str = "web.yml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_full_config_loads(certs: Path) -> None:
    """Every supported field of the exporter-toolkit shape plus bearer_auth loads; relative
    paths are relative to the file."""
    path = write(
        certs,
        TLS + "  client_ca_file: clients.crt\n"
        "  client_auth_type: RequireAndVerifyClientCert\n"
        "  min_version: TLS13\n"
        "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
        "  prefer_server_cipher_suites: false\n"
        "http_server_config:\n  http2: false\n"
        "  headers: {X-Frame-Options: deny, Strict-Transport-Security: max-age=3600}\n"
        f"basic_auth_users:\n  alice: '{HASH}'\n"
        "bearer_auth: {tokens_file: tokens}\n"
        "rate_limit: {interval: 1m30s, burst: 5}\n",
    )
    config = load_web_config(path)
    assert config.users == {"alice": HASH}
    assert config.tokens == (b"abcdefghijklmnop-0123", b"qrstuvwxyz-0123456789")
    assert config.auth_required
    assert config.model.rate_limit.interval_s == 90.0
    context = config.ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert config.watched_files() == [
        path,
        certs / "tokens",
        certs / "server.crt",
        certs / "server.key",
        certs / "clients.crt",
    ]


def test_empty_sections_mean_plain_http_without_auth(tmp_path: Path) -> None:
    """A config with only headers and a disabled rate limit (`interval: 0`, as exporter-toolkit
    documents it) serves plain HTTP and asks for no credentials."""
    config = load_web_config(
        write(tmp_path, "http_server_config: {headers: {}}\nrate_limit: {interval: 0}\n")
    )
    assert config.ssl_context is None and not config.auth_required
    assert config.model.rate_limit.interval_s == 0


def test_repr_and_messages_never_show_hashes_or_tokens(certs: Path) -> None:
    """A WebConfig prints counts, not secrets; a wrong hash is reported without its value."""
    config = load_web_config(
        write(
            certs, f"basic_auth_users: {{alice: '{HASH}'}}\nbearer_auth: {{tokens_file: tokens}}\n"
        )
    )
    assert HASH not in repr(config) and "abcdefghijklmnop" not in repr(config)
    with pytest.raises(ConfigError) as error:
        load_web_config(write(certs, "basic_auth_users: {alice: plaintext-password}\n"))
    assert "plaintext-password" not in str(error.value)


BROKEN = [
    (
        "bad-yaml",
        "tls_server_config:\n  cert_file: [\n",
        "{f}:3: invalid YAML: expected the node content, but found '<stream end>'",
    ),
    ("unknown-top-field", "basic_auth_user: {}\n", "{f}:1: basic_auth_user: unknown field"),
    (
        "unknown-tls-field",
        TLS + "  certfile: x\n",
        "{f}:4: tls_server_config.certfile: unknown field",
    ),
    (
        "missing-key-file",
        "tls_server_config:\n  cert_file: server.crt\n",
        "{f}:1: tls_server_config.key_file: required field is missing",
    ),
    (
        "not-bcrypt",
        "basic_auth_users:\n  alice: hunter2\n",
        "{f}:2: basic_auth_users.alice: must be a bcrypt hash ($2y$, $2b$ or $2a$; see docs/security.md)",
    ),
    (
        "truncated-bcrypt",
        "basic_auth_users:\n  alice: $2y$10$abc\n",
        "{f}:2: basic_auth_users.alice: must be a bcrypt hash ($2y$, $2b$ or $2a$; see docs/security.md)",
    ),
    (
        "hash-not-string",
        "basic_auth_users:\n  alice: 5\n",
        "{f}:2: basic_auth_users.alice: must be a string",
    ),
    (
        "colon-in-user",
        f"basic_auth_users:\n  'a:b': '{HASH}'\n",
        "{f}:1: basic_auth_users: a user name must be non-empty and contain no ':'",
    ),
    (
        "unreadable-cert",
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
        "{f}:2: tls_server_config.cert_file: cannot read {d}/missing.crt: No such file or directory",
    ),
    (
        "unreadable-key",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: nope.key\n",
        "{f}:3: tls_server_config.key_file: cannot read {d}/nope.key: No such file or directory",
    ),
    (
        "cert-key-mismatch",
        "tls_server_config:\n  cert_file: clients.crt\n  key_file: server.key\n",
        "{f}:2: tls_server_config.cert_file: {d}/clients.crt and key_file {d}/server.key are not a matching PEM certificate and key (KEY_VALUES_MISMATCH)",
    ),
    (
        "ca-not-pem",
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tokens\n",
        "{f}:5: tls_server_config.client_ca_file: {d}/tokens holds no PEM certificate (NO_CERTIFICATE_OR_CRL_FOUND)",
    ),
    (
        "mtls-without-ca",
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
        "{f}:1: tls_server_config: client_auth_type RequireAndVerifyClientCert needs `client_ca_file`",
    ),
    (
        "ca-without-client-auth",
        TLS + "  client_ca_file: clients.crt\n",
        "{f}:1: tls_server_config: `client_ca_file` is set but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert",
    ),
    (
        "unverified-client-cert",
        TLS + "  client_auth_type: RequireAnyClientCert\n",
        "{f}:4: tls_server_config.client_auth_type: RequireAnyClientCert accepts client certificates without verifying them, which is not supported; use RequireAndVerifyClientCert with client_ca_file",
    ),
    (
        "unknown-client-auth",
        TLS + "  client_auth_type: Always\n",
        "{f}:4: tls_server_config.client_auth_type: must be one of NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
    ),
    (
        "inline-cert",
        TLS + "  cert: '-----BEGIN CERTIFICATE-----'\n",
        "{f}:4: tls_server_config.cert: inline PEM is not supported; use cert_file",
    ),
    (
        "client-allowed-sans",
        TLS + "  client_allowed_sans: [a]\n",
        "{f}:4: tls_server_config.client_allowed_sans: not supported; issue client certificates from a dedicated CA",
    ),
    (
        "bad-version",
        TLS + "  min_version: TLS14\n",
        "{f}:4: tls_server_config.min_version: must be one of 'TLS10', 'TLS11', 'TLS12' or 'TLS13'",
    ),
    (
        "min-above-max",
        TLS + "  min_version: TLS13\n  max_version: TLS12\n",
        "{f}:1: tls_server_config: `min_version` must not be above `max_version`",
    ),
    (
        "weak-cipher",
        TLS + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
        "{f}:4: tls_server_config.cipher_suites: unknown cipher suite 'TLS_RSA_WITH_RC4_128_SHA'; known: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "header-not-allowed",
        "http_server_config:\n  headers: {Server: canary}\n",
        "{f}:2: http_server_config.headers: header 'Server' can not be configured",
    ),
    (
        "header-bad-value",
        "http_server_config:\n  headers: {X-Frame-Options: allow}\n",
        "{f}:2: http_server_config.headers: X-Frame-Options must be one of deny, sameorigin",
    ),
    (
        "bad-duration",
        "rate_limit: {interval: 1 second, burst: 2}\n",
        "{f}:1: rate_limit.interval: must be a duration such as 100ms, 1s or 1m",
    ),
    (
        "rate-without-burst",
        "rate_limit: {interval: 1s}\n",
        "{f}:1: rate_limit: `burst` must be >= 1 when `interval` is set",
    ),
    (
        "missing-tokens-file",
        "bearer_auth:\n  tokens_file: nope\n",
        "{f}:2: bearer_auth.tokens_file: cannot read {d}/nope: No such file or directory",
    ),
    (
        "short-token",
        "bearer_auth: {tokens_file: short}\n",
        "{d}/short:2: a token must be at least 16 characters without spaces",
    ),
    (
        "no-token",
        "bearer_auth: {tokens_file: empty}\n",
        "{f}:1: bearer_auth.tokens_file: {d}/empty has no token",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BROKEN], ids=[n for n, _, _ in BROKEN]
)
def test_broken_web_configs_are_pinned(certs: Path, text: str, expected: str) -> None:
    """Each broken web config fails with exactly one `file:line: field: message`."""
    (certs / "short").write_text("# too short\nabc\n")
    (certs / "empty").write_text("# nothing\n\n")
    path = write(certs, text)
    with pytest.raises(ConfigError) as error:
        load_web_config(path)
    assert str(error.value) == expected.format(f=path, d=certs)


def test_canary_validate_checks_web_configs(certs: Path, tmp_path: Path) -> None:
    """`canary validate` takes a web config file directly, and through the daemon config's
    server.web_config_file."""
    broken = write(certs, "basic_auth_users: {bob: nope}\n", "broken-web.yml")
    message = f"{broken}:1: basic_auth_users.bob: must be a bcrypt hash ($2y$, $2b$ or $2a$; see docs/security.md)"
    assert [str(p) for p in validate_files([broken])] == [message]
    config = write(
        certs,
        "server: {web_config_file: broken-web.yml}\n"
        "targets: [{platform: p, model: m, api: openai_chat, base_url: 'http://127.0.0.1:1/'}]\n"
        f"suites: [{{file: '{PROBES / 'core.yaml'}'}}]\n",
        "canary.yaml",
    )
    assert [str(p) for p in validate_files([config])] == [message]
    write(certs, TLS, "broken-web.yml")
    assert validate_files([config]) == []
