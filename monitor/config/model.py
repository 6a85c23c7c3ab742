"""The config model: every record a config file holds, validated strictly, and nothing else.

A leaf: it imports no part of the daemon (providers, store, scheduler), only leaf helpers
(errors, files, headers, expectation, probes, dsn), so any module may import `Target` and
the config never depends on the code that uses it. Loading files, `${ENV}` substitution and
file:line errors are `monitor.config`'s; secrets are resolved there through
`Credentials.resolve`, and are `SecretStr` so they print as `**********`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from monitor.config.dsn import dsn_problem, masked
from monitor.config.expectation import Strict
from monitor.config.files import MAX_SECRET_BYTES, FileProblem, read_text
from monitor.config.headers import check_header_name, check_header_value
from monitor.config.probes import MAX_CONTEXT_TOKENS

#: Every wire API a target may name in `api:`; `monitor.providers.WIRE_SPECS` declares one
#: spec for each (a test holds the two to the same set).
API_NAMES: tuple[str, ...] = (
    "openai_chat",
    "anthropic_messages",
    "openai_responses",
    "azure_openai_chat",
    "bedrock_converse",
    "bedrock_invoke",
    "vertex_anthropic",
    "vertex_gemini",
)

Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")]
STORE_URL_PATTERN = r"^(sqlite:///.+|postgres(ql)?://.+)"
# Upper bounds of every number: a value past them is a typo or an attack, never a setting
# (`interval_s: 1e308` overflowed the scheduler; `.inf` and `.nan` are refused by `Strict`).
DAY_S = 86_400.0
MAX_TIMEOUT_S = 3600.0
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

# Said after every "secret missing" message: how to lint the file where the secret is absent.
NO_SECRETS = " (`canary validate --no-secrets` checks the rest without it)"


class Credentials(Strict):
    """Where the API key comes from: an environment variable or a file (Kubernetes Secret)."""

    api_key_env: str | None = None
    api_key_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Credentials:
        if (self.api_key_env is None) == (self.api_key_file is None):
            raise ValueError("set `api_key_env` or `api_key_file`, not both")
        return self

    def resolve(self, base_dir: Path) -> SecretStr:
        """Read the secret now; raises ValueError with a message fit for the user that says
        how to provide it (and never holds its value)."""
        if self.api_key_env is not None:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise ValueError(
                    f"environment variable {self.api_key_env} is not set: export it with the"
                    f" API key, or give the key in a file with credentials.api_key_file{NO_SECRETS}"
                )
            check_header_value(value, f"environment variable {self.api_key_env}")
            return SecretStr(value)
        assert self.api_key_file is not None
        path = base_dir / self.api_key_file
        try:
            value = read_text(path, max_bytes=MAX_SECRET_BYTES).strip()
        except FileProblem as exc:
            raise ValueError(
                f"{exc}: write the API key there (a mounted Secret), or use"
                f" credentials.api_key_env{NO_SECRETS}"
            ) from None
        if not value:
            raise ValueError(f"{path} is empty")
        check_header_value(value, f"the key in {path}")
        return SecretStr(value)


class Target(Strict):
    """One (platform, pool, model) endpoint with its wire API and credentials."""

    platform: Label
    pool: Label = "default"
    model: Label
    api: str
    base_url: str = Field(pattern=r"^https?://[^\s]+$")
    model_id: str | None = None  # the name on the wire; defaults to `model`
    credentials: Credentials | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=MAX_TIMEOUT_S)
    concurrency: int = Field(default=4, ge=1, le=256)
    max_response_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=MAX_RESPONSE_BYTES)
    headers: dict[str, str] = Field(default_factory=dict)
    keep_headers: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    # A response header naming the backend that served the reply (when the API has no
    # system_fingerprint), e.g. `x-served-by`; it is kept with the transcript automatically.
    identity_header: str | None = None
    api_key: SecretStr | None = Field(default=None, exclude=True)  # filled at load, never from YAML
    # Cloud platforms. Bedrock signs with botocore's credential chain, Vertex uses google-auth;
    # neither takes `credentials`. base_url defaults to the platform's regional endpoint.
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")  # bedrock_*
    aws_profile: str | None = None  # a shared-config profile; None: env, IRSA, instance role
    project: str | None = None  # vertex_*: the GCP project id
    location: str | None = None  # vertex_*: e.g. us-east5, europe-west1
    credentials_file: str | None = None  # vertex_*: service-account JSON; None: ADC
    api_version: str | None = None  # azure_openai_chat: the `api-version` query parameter
    # The context window this target serves (prompt + reply, tokens); probes estimated to
    # need more are skipped with a reason rather than failed. None: not enforced.
    max_context_tokens: int | None = Field(default=None, ge=64, le=MAX_CONTEXT_TOKENS)

    @model_validator(mode="before")
    @classmethod
    def _platform_fields(cls, data: Any) -> Any:
        """Bedrock needs `region`, Vertex `project` and `location`; they default `base_url`."""
        if not isinstance(data, dict):
            return data
        api = str(data.get("api", ""))
        if api.startswith("bedrock_"):
            if data.get("region") is None:
                raise ValueError(f"`region` is required for api {api}")
            default = f"https://bedrock-runtime.{data['region']}.amazonaws.com/"
        elif api.startswith("vertex_"):
            if data.get("project") is None or data.get("location") is None:
                raise ValueError(f"`project` and `location` are required for api {api}")
            default = f"https://{data['location']}-aiplatform.googleapis.com/"
        else:
            return data
        return data if data.get("base_url") is not None else {**data, "base_url": default}

    @model_validator(mode="after")
    def _fields_of_other_platforms(self) -> Target:
        """A platform field on another platform's target is a mistake, not a no-op."""
        owners = {
            "region": "bedrock_",
            "aws_profile": "bedrock_",
            "project": "vertex_",
            "location": "vertex_",
            "credentials_file": "vertex_",
            "api_version": "azure_openai_chat",
        }
        for name, prefix in owners.items():
            if getattr(self, name) is not None and not self.api.startswith(prefix):
                scope = prefix + "*" if prefix.endswith("_") else prefix
                raise ValueError(f"`{name}` applies only to api {scope}, not {self.api}")
        if self.credentials is not None and self.api.startswith(("bedrock_", "vertex_")):
            raise ValueError(
                f"api {self.api} authenticates with the cloud's own credentials; remove"
                " `credentials`"
            )
        return self

    @field_validator("api")
    @classmethod
    def _known_api(cls, value: str) -> str:
        if value not in API_NAMES:
            raise ValueError(f"unknown api {value!r}; known: {', '.join(sorted(API_NAMES))}")
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _never_inline(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and not (info.context or {}).get("resolved"):
            raise ValueError(
                "inline secrets are not allowed; use credentials.api_key_env or api_key_file"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            check_header_name(name)
            check_header_value(text, f"the value of header {name}")
        return value

    @field_validator("keep_headers")
    @classmethod
    def _header_names(cls, value: list[str]) -> list[str]:
        for name in value:
            check_header_name(name)
        return value

    @field_validator("identity_header")
    @classmethod
    def _identity_header_name(cls, value: str | None) -> str | None:
        if value is not None:
            check_header_name(value)
        return value

    @model_validator(mode="after")
    def _keep_identity_header(self) -> Target:
        header = self.identity_header
        if header and header.lower() not in {h.lower() for h in self.keep_headers}:
            self.keep_headers.append(header)
        return self

    @property
    def name(self) -> str:
        """`platform/pool/model`: the id used by `--target` and the API."""
        return f"{self.platform}/{self.pool}/{self.model}"

    @property
    def wire_model(self) -> str:
        return self.model_id or self.model


class TargetSelector(Strict):
    """Matches targets; an unset field matches anything."""

    platform: str | None = None
    pool: str | None = None
    model: str | None = None

    def matches(self, target: Target) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.platform, target.platform),
                (self.pool, target.pool),
                (self.model, target.model),
            )
        )


class SuiteBinding(Strict):
    """Runs the suite in `file` on the selected targets every `interval_s` seconds."""

    file: str
    interval_s: float = Field(default=60.0, ge=1, le=DAY_S)
    targets: list[TargetSelector] | None = None  # None: every target
    # Overrides the suite's context cut-over for padded probes (the routing threshold, in tokens).
    context_cutover_tokens: int | None = Field(default=None, ge=64, le=MAX_CONTEXT_TOKENS)
    # > 0: send each probe alone, then `burst` copies at once, and compare (batch-size faults).
    burst: int = Field(default=0, ge=0, le=64)
    # true/false: stream (or not) every probe of the suite on these targets, whatever the
    # probe files say; unset: each probe's own `params.stream`.
    stream: bool | None = None


class StoreConfig(Strict):
    """Where results live: `sqlite:///relative.db`, `sqlite:////absolute.db`, or a PostgreSQL
    DSN `postgresql://user:password@host/db` for N replicas. A DSN carries a password: give it
    as `${ENV}` or in `url_file` (a Kubernetes Secret), never inline in a committed file."""

    url: str = Field(default="sqlite:///canary.db", pattern=STORE_URL_PATTERN)
    url_file: str | None = None  # the URL in a file, relative to this config (read at load)
    pool_size: int = Field(default=4, ge=1, le=64)  # PostgreSQL connections per replica
    # PostgreSQL: a result write failing for the connection's sake (a restart, an outage) is
    # retried on a fresh connection for this long before the result is given up (counted).
    write_deadline_s: float = Field(default=30.0, gt=0, le=3600)
    retention_passed_days: float = Field(default=7.0, gt=0, le=3650)
    retention_failed_days: float = Field(default=90.0, gt=0, le=3650)

    @field_validator("url")
    @classmethod
    def _parsable_dsn(cls, url: str) -> str:
        # libpq must parse it, or psycopg_pool retries it forever and echoes its tokens.
        if url.startswith(("postgresql://", "postgres://")) and (problem := dsn_problem(url)):
            raise ValueError(f"{problem} ({masked(url)})")
        return url

    @model_validator(mode="after")
    def _failures_outlive_passes(self) -> StoreConfig:
        if self.retention_failed_days < self.retention_passed_days:
            raise ValueError("`retention_failed_days` must be >= `retention_passed_days`")
        if self.url_file is not None and "url" in self.model_fields_set:
            raise ValueError("set `url` or `url_file`, not both")
        return self

    @property
    def postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))


class ClusterConfig(Strict):
    """N replicas sharing a PostgreSQL store split the models between them (monitor/shard/).

    Each replica renews a membership lease and one lease per model it probes every
    `heartbeat_s`; a replica that stops renewing loses them after `lease_ttl_s`, and the
    survivors take its models over within `lease_ttl_s + heartbeat_s`."""

    enabled: bool = False
    # This replica's name (a metric label); default: $POD_NAME, else the host name.
    replica_id: Label | None = None
    lease_ttl_s: float = Field(default=15.0, gt=0, le=3600)
    heartbeat_s: float = Field(default=5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> ClusterConfig:
        if self.lease_ttl_s < 2 * self.heartbeat_s:
            raise ValueError("`lease_ttl_s` must be >= 2 x `heartbeat_s` (one missed heartbeat)")
        return self


class ServerConfig(Strict):
    """The HTTP endpoint for /metrics, health and the API."""

    listen_address: str = "127.0.0.1"
    port: int = Field(default=9471, ge=0, le=65535)
    drain_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # An exporter-toolkit web config (TLS, basic/bearer auth; docs/security.md), relative to
    # this file; `canary run --web.config.file` wins over it. Read at start, then on change.
    web_config_file: str | None = None
    # false: /api/v1/results* (stored transcripts) answer 404; set at start.
    api_results: bool = True


class AdaptiveConfig(Strict):
    """Probe a series faster while its change statistic is high (research note 4.9).

    Thresholds are then calibrated in wall-clock time, so the false-page budget still holds;
    `max_extra_probes_per_s` caps the extra load on each platform.
    """

    enabled: bool = True
    fraction: float = Field(default=0.25, gt=0, lt=1)
    fast_interval_s: float = Field(default=2.0, gt=0, le=DAY_S)
    max_extra_probes_per_s: float = Field(default=1.0, gt=0, le=1000)


Rate = Annotated[float, Field(gt=0, lt=1)]


class DriftConfig(Strict):
    """Change detection: the fleet's false-page budget and how baselines are learned (see
    monitor/drift/ and docs/drift.md)."""

    # A page every 20 years at the least, 10,000 a week at the most: past either the
    # calibration means nothing (1e-300 asked for thresholds no float holds).
    false_pages_per_week: float = Field(default=1.0, ge=0.001, le=10_000)
    baseline_failure_rate: float | None = Field(default=None, gt=0, lt=0.5)  # known: no learning
    design_failure_rate: float | None = Field(default=None, gt=0, lt=1)  # one more bank member
    tolerance: float = Field(default=1.25, ge=1, le=4)
    confidence: float = Field(default=0.9, ge=0.5, lt=1)
    warmup_min_s: float = Field(default=86_400.0, ge=0, le=90 * DAY_S)
    warmup_max_s: float = Field(default=604_800.0, gt=0, le=90 * DAY_S)
    warmup_failures: float = Field(default=43.0, ge=0, le=1_000_000)
    half_life_s: float = Field(default=1_209_600.0, gt=0, le=365 * DAY_S)
    max_drift_per_day: float = Field(default=0.1, ge=0, le=1)
    ceiling_failure_rate: float = Field(default=0.2, gt=0, lt=0.5)
    golden_failure_rates: dict[str, Rate] = Field(default_factory=dict)  # suite -> offline p0 max
    recovery_s: float = Field(default=604_800.0, gt=0, le=365 * DAY_S)
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)

    @model_validator(mode="after")
    def _consistent(self) -> DriftConfig:
        if (
            self.design_failure_rate is not None
            and self.baseline_failure_rate is not None
            and self.design_failure_rate <= self.baseline_failure_rate
        ):
            raise ValueError("`design_failure_rate` must be > `baseline_failure_rate`")
        if self.warmup_max_s < self.warmup_min_s:
            raise ValueError("`warmup_max_s` must be >= `warmup_min_s`")
        return self


class TargetDefaults(Strict):
    """Values every target inherits unless it sets its own."""

    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    concurrency: int | None = Field(default=None, ge=1, le=256)
    max_response_bytes: int | None = Field(default=None, ge=1024, le=MAX_RESPONSE_BYTES)
    headers: dict[str, str] | None = None
    keep_headers: list[str] | None = None


class Config(Strict):
    """The whole daemon config."""

    targets: list[Target] = Field(min_length=1)
    suites: list[SuiteBinding] = Field(min_length=1)
    store: StoreConfig = Field(default_factory=StoreConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    defaults: TargetDefaults = Field(default_factory=TargetDefaults)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        """`defaults:` fills target fields that a target leaves unset."""
        if isinstance(data, dict) and isinstance(data.get("defaults"), dict):
            try:
                TargetDefaults.model_validate(data["defaults"])
            except ValueError:
                return data  # reported once, at `defaults`, rather than again on every target
            inherited = {
                k: v for k, v in data["defaults"].items() if k in TargetDefaults.model_fields
            }
            if isinstance(data.get("targets"), list):
                data = dict(data)
                data["targets"] = [
                    {**inherited, **t} if isinstance(t, dict) else t for t in data["targets"]
                ]
        return data
