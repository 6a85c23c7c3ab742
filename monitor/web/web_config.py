"""The web config file: TLS, basic auth and bearer auth for our own HTTP endpoints.

The shape is prometheus/exporter-toolkit's (`--web.config.file`, docs/web-configuration.md),
because that is what Prometheus operators already write for node_exporter and friends:
`tls_server_config`, `http_server_config`, `basic_auth_users` (bcrypt hashes) and `rate_limit`.
`bearer_auth` is our extension. What Python's `ssl` cannot do the way Go's `crypto/tls` does
(accepting an unverified client certificate, curve preferences, SAN allow-lists) is an error
naming the field rather than a silent downgrade. Relative paths are relative to the file.

Validation is strict and located like the daemon config (`file:line: field: message`); a hash
or token is never part of a message.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from monitor.config.expectation import Strict
from monitor.config.files import MAX_SECRET_BYTES, FileProblem, read_bytes, read_text
from monitor.config.yamlsource import load_document, validate
from monitor.errors import ConfigError, ConfigProblem

# $2a$/$2b$/$2y$ (what htpasswd -B and Go's bcrypt write), a two-digit cost, 53 characters of
# salt and digest in bcrypt's own base64 alphabet.
_BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
_DURATION = re.compile(r"^(?:0|(?:[0-9]+(?:ms|s|m|h))+)$")
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MIN_TOKEN_CHARS = 16

TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's names for its secure TLS 1.2 suites (crypto/tls.CipherSuites()) -> OpenSSL's names.
# TLS 1.3 suites are not configurable, in Go or here.
CIPHER_SUITES: dict[str, str] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# client_auth_type -> verify mode. Go's RequestClientCert and RequireAnyClientCert accept a
# certificate without verifying it, which Python's ssl cannot do (and which the exporter-toolkit
# docs call insecure): they are refused with a pointer to RequireAndVerifyClientCert.
CLIENT_AUTH: dict[str, ssl.VerifyMode] = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
# The response headers exporter-toolkit lets a web config set, with the values it accepts.
EXTRA_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}


# Fields of the exporter-toolkit shape that canary-monitor refuses, and why.
UNSUPPORTED_TLS_FIELDS: dict[str, str] = {
    "cert": "inline PEM is not supported; use cert_file",
    "key": "inline PEM is not supported; use key_file",
    "client_ca": "inline PEM is not supported; use client_ca_file",
    "curve_preferences": "not supported: Python's ssl chooses the curves",
    "client_allowed_sans": "not supported; issue client certificates from a dedicated CA",
}


class TLSServerConfig(Strict):
    """`tls_server_config`: the server certificate, and client certificates for mutual TLS."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    client_auth_type: str = "NoClientCert"
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: list[str] | None = None
    prefer_server_cipher_suites: bool = True
    cert: Any = None
    key: Any = None
    client_ca: Any = None
    curve_preferences: Any = None
    client_allowed_sans: Any = None

    @field_validator(*UNSUPPORTED_TLS_FIELDS, mode="before")
    @classmethod
    def _refuse_unsupported(cls, value: Any, info: ValidationInfo) -> Any:
        raise ValueError(UNSUPPORTED_TLS_FIELDS[str(info.field_name)])

    @field_validator("client_auth_type")
    @classmethod
    def _known_client_auth(cls, value: str) -> str:
        if value in _UNVERIFIED_CLIENT_AUTH:
            raise ValueError(
                f"{value} accepts client certificates without verifying them, which is not"
                " supported; use RequireAndVerifyClientCert with client_ca_file"
            )
        if value not in CLIENT_AUTH:
            raise ValueError(f"must be one of {', '.join(CLIENT_AUTH)}")
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _known_ciphers(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if name not in CIPHER_SUITES:
                raise ValueError(
                    f"unknown cipher suite {name!r}; known: {', '.join(CIPHER_SUITES)}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TLSServerConfig:
        if self.client_auth_type != "NoClientCert" and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs `client_ca_file`")
        if self.client_ca_file is not None and self.client_auth_type == "NoClientCert":
            raise ValueError(
                "`client_ca_file` is set but client_auth_type is NoClientCert; set"
                " client_auth_type: RequireAndVerifyClientCert"
            )
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise ValueError("`min_version` must not be above `max_version`")
        return self


class HTTPServerConfig(Strict):
    """`http_server_config`: extra response headers; `http2` is accepted and ignored (aiohttp
    speaks HTTP/1.1 only)."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _known_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name not in EXTRA_HEADERS:
                raise ValueError(f"header {name!r} can not be configured")
            allowed = EXTRA_HEADERS[name]
            if allowed and text not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        return value


class RateLimit(Strict):
    """`rate_limit`: a token bucket over every request; `interval: 0` turns it off."""

    interval: str = "0"
    burst: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _bare_zero(cls, value: Any) -> Any:
        return "0" if value == 0 and not isinstance(value, bool) else value  # `interval: 0`

    @field_validator("interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError("must be a duration such as 100ms, 1s or 1m")
        return value

    @property
    def interval_s(self) -> float:
        return sum(int(n) * _UNIT_S[unit] for n, unit in _DURATION_PART.findall(self.interval))

    @model_validator(mode="after")
    def _burst_when_on(self) -> RateLimit:
        if self.interval_s > 0 and self.burst < 1:
            raise ValueError("`burst` must be >= 1 when `interval` is set")
        return self


class BearerAuth(Strict):
    """Our extension: `bearer_auth: {tokens_file: FILE}`, one token a line (`#` comments)."""

    tokens_file: str


def _bcrypt_hash(value: str) -> str:
    # Never echo the value: it may be a plaintext password pasted by mistake.
    if not _BCRYPT.match(value):
        raise ValueError("must be a bcrypt hash ($2y$, $2b$ or $2a$; see docs/security.md)")
    return value


BcryptHash = Annotated[str, AfterValidator(_bcrypt_hash)]


class WebConfigModel(Strict):
    """The whole web config file."""

    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, BcryptHash] | None = None
    bearer_auth: BearerAuth | None = None
    rate_limit: RateLimit = Field(default_factory=RateLimit)

    @field_validator("basic_auth_users")
    @classmethod
    def _user_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for user in value or {}:
            if not user or ":" in user:
                raise ValueError("a user name must be non-empty and contain no ':'")
        return value


# A file with one of these top-level keys is a web config (for `canary validate`).
WEB_CONFIG_KEYS = frozenset(WebConfigModel.model_fields)


@dataclass(frozen=True, slots=True)
class WebConfig:
    """A loaded web config: the model with every path resolved, and the bearer tokens read."""

    path: Path
    model: WebConfigModel
    tokens: tuple[bytes, ...] = ()  # the bearer tokens, as bytes for hmac.compare_digest
    ssl_context: ssl.SSLContext | None = None  # built from `tls`, None without TLS

    @property
    def tls(self) -> TLSServerConfig | None:
        return self.model.tls_server_config

    @property
    def users(self) -> dict[str, str]:
        return self.model.basic_auth_users or {}

    @property
    def auth_required(self) -> bool:
        return bool(self.users) or bool(self.tokens)

    def resolve(self, name: str) -> Path:
        """A path from the file, relative to the file's directory (as exporter-toolkit does)."""
        return self.path.parent / name

    def watched_files(self) -> list[Path]:
        """The files whose change means the config must be read again."""
        files = [self.path]
        if self.model.bearer_auth is not None:
            files.append(self.resolve(self.model.bearer_auth.tokens_file))
        tls = self.tls
        if tls is not None:
            files += [
                self.resolve(f) for f in (tls.cert_file, tls.key_file, tls.client_ca_file) if f
            ]
        return files

    def __repr__(self) -> str:  # never the hashes or tokens
        return f"WebConfig({str(self.path)!r}, users={len(self.users)}, tokens={len(self.tokens)})"


def load_web_config(path: Path) -> WebConfig:
    """Read and validate `path`, its tokens file and its certificates (by building the SSL
    context once). Raises `ConfigError` with every problem as `file:line: field: message`."""
    # ${ENV} is not expanded: `$2y$...` hashes are full of dollars and the file is a Secret.
    doc = load_document(path, substitute_env=False)
    model = validate(WebConfigModel, doc)
    config = WebConfig(path, model)
    tokens: tuple[bytes, ...] = ()
    if model.bearer_auth is not None:
        line = doc.line_of(("bearer_auth", "tokens_file"))
        tokens = _read_tokens(config.resolve(model.bearer_auth.tokens_file), line, path)
    context = None
    if model.tls_server_config is not None:
        try:
            context = build_ssl_context(config)
        except ValueError as exc:
            name, _, message = str(exc).partition(": ")
            raise ConfigError([doc.problem(("tls_server_config", name), message)]) from None
    return WebConfig(path, model, tokens, context)


def _read_tokens(tokens_path: Path, line: int | None, web_path: Path) -> tuple[bytes, ...]:
    field = "bearer_auth.tokens_file"
    try:
        text = read_text(tokens_path, max_bytes=MAX_SECRET_BYTES)
    except FileProblem as exc:
        raise ConfigError([ConfigProblem(str(web_path), line, field, str(exc))]) from None
    tokens: list[bytes] = []
    problems: list[ConfigProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        token = raw.strip()
        if not token or token.startswith("#"):
            continue
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            message = f"a token must be at least {MIN_TOKEN_CHARS} characters without spaces"
            problems.append(ConfigProblem(str(tokens_path), number, "", message))
        tokens.append(token.encode())
    if not tokens and not problems:
        problems.append(ConfigProblem(str(web_path), line, field, f"{tokens_path} has no token"))
    if problems:
        raise ConfigError(problems)
    return tuple(tokens)


def build_ssl_context(config: WebConfig) -> ssl.SSLContext:
    """The server-side `SSLContext` for `config.tls` (which must be set). A ValueError starts
    with the field that failed: `cert_file: cannot read /etc/tls/tls.crt: No such file ...`."""
    tls = config.tls
    assert tls is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if tls.cipher_suites:
        context.set_ciphers(":".join(CIPHER_SUITES[name] for name in tls.cipher_suites))
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    cert, key = config.resolve(tls.cert_file), config.resolve(tls.key_file)
    for name, file in (("cert_file", cert), ("key_file", key)):
        _readable(name, file)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ValueError(
            f"cert_file: {cert} and key_file {key} are not a matching PEM certificate and key"
            f" ({exc.reason or exc.strerror})"
        ) from None
    if tls.client_ca_file is not None:
        ca = config.resolve(tls.client_ca_file)
        _readable("client_ca_file", ca)
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as exc:
            raise ValueError(
                f"client_ca_file: {ca} holds no PEM certificate ({exc.reason or exc.strerror})"
            ) from None
    context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    return context


def _readable(name: str, file: Path) -> None:
    try:
        read_bytes(file, max_bytes=MAX_SECRET_BYTES)
    except FileProblem as exc:
        raise ValueError(f"{name}: {exc}") from None
