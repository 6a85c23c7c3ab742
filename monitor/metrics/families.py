"""The metric families of each concern, each declared by one small class.

`Metrics` (in `monitor/metrics/__init__.py`) inherits them all, so a caller reads
`metrics.store_errors` as before; each class declares its concern's families into the
injected registry and zeros the series whose labels come from a closed set. The detectors'
families are declared from their descriptors (`monitor/metrics/detectors.py`). Names, types,
help texts and label names are frozen by `tests/golden/metrics_catalogue.json`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary

from monitor import __version__

SERIES = ("platform", "pool", "model", "suite")
DETECTOR_SERIES = (*SERIES, "detector")
SCHEDULER_EVENTS = ("missed", "max_instances", "error")
STORE_OPERATIONS = ("write", "prune", "state", "lease")
# Why the HTTP server dropped a connection (monitor/web/connections.py).
HTTP_DROP_REASONS = ("limit", "idle_evicted", "header_timeout", "accept_failed")

# LLM replies take from a fraction of a second to minutes.
DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
# Streamed replies: the first token within tens of milliseconds to tens of seconds (a long
# prompt on a loaded pool); output rates from a few tokens per second to a few thousand.
TTFT_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
TOKENS_PER_S_BUCKETS = (1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560)
LAG_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """(platform, pool, model, suite): the unit a probe run reports on."""

    platform: str
    pool: str
    model: str
    suite: str

    def labels(self) -> tuple[str, str, str, str]:
        return (self.platform, self.pool, self.model, self.suite)


@dataclass(frozen=True, slots=True)
class TargetInfo:
    platform: str
    pool: str
    model: str
    api: str


def discard(metric: Counter | Gauge | Histogram | Summary, labels: tuple[str, ...]) -> None:
    """Remove one labelled series if it exists (pruning is idempotent)."""
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


class ProcessFamilies:
    """The process: its build, config reloads, and bugs caught around a probe."""

    def _declare_process(self, registry: CollectorRegistry, revision: str) -> None:
        self.build_info = Gauge(
            "canary_build_info",
            "Build of the running canary-monitor; always 1.",
            ("version", "revision"),
            registry=registry,
        )
        self.build_info.labels(__version__, revision).set(1)
        self.reload_success = Gauge(
            "canary_config_last_reload_successful",
            "1 if the last config load succeeded.",
            registry=registry,
        )
        self.reload_timestamp = Gauge(
            "canary_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.",
            registry=registry,
        )
        self.internal_errors = Counter(
            "canary_internal_errors",
            "Unexpected exceptions caught around a probe (bugs).",
            registry=registry,
        )


class TargetFamilies:
    """Configured targets, and which backend served each one's last reply."""

    def _declare_targets(self, registry: CollectorRegistry) -> None:
        self.target_info = Gauge(
            "canary_target_info",
            "One series per configured target; always 1.",
            ("platform", "pool", "model", "api"),
            registry=registry,
        )
        self.backend_identity = Gauge(
            "canary_backend_identity",
            "CRC-32 of the backend identity (fingerprint) that served the last reply; "
            "a change of value is a change of backend. The strings are in the API.",
            ("platform", "pool", "model"),
            registry=registry,
        )
        self.backend_changes = Counter(
            "canary_backend_changes",
            "Replies served by a different backend identity than the reply before.",
            ("platform", "pool", "model"),
            registry=registry,
        )


class ProbeFamilies:
    """Per (platform, pool, model, suite): runs by outcome, latency, freshness, pace."""

    def _declare_probes(self, registry: CollectorRegistry) -> None:
        self.probe_runs = Counter(
            "canary_probe_runs", "Probes run, by outcome.", (*SERIES, "outcome"), registry=registry
        )
        self.probe_duration = Histogram(
            "canary_probe_duration_seconds",
            "Wall time of one probe request, reply included.",
            SERIES,
            buckets=DURATION_BUCKETS_S,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "canary_time_to_first_token_seconds",
            "Streamed probes: seconds from sending the request to the first text.",
            SERIES,
            buckets=TTFT_BUCKETS_S,
            registry=registry,
        )
        self.output_tokens_per_second = Histogram(
            "canary_output_tokens_per_second",
            "Streamed probes: output tokens per second after the first token.",
            SERIES,
            buckets=TOKENS_PER_S_BUCKETS,
            registry=registry,
        )
        self.probes_skipped = Gauge(
            "canary_probes_skipped",
            "Probes left out on a target whose API lacks a capability they need.",
            (*SERIES, "capability"),
            registry=registry,
        )
        self._declare_probe_clocks(registry)

    def _declare_probe_clocks(self, registry: CollectorRegistry) -> None:
        """When a series last ran and passed, and how often it runs."""
        self.last_run = Gauge(
            "canary_last_run_timestamp_seconds",
            "When a probe of this series last finished.",
            SERIES,
            registry=registry,
        )
        self.last_success = Gauge(
            "canary_last_success_timestamp_seconds",
            "When a probe of this series last passed.",
            SERIES,
            registry=registry,
        )
        self.suite_interval = Gauge(
            "canary_suite_interval_seconds",
            "Configured interval between runs of this series.",
            SERIES,
            registry=registry,
        )
        self.probe_interval = Gauge(
            "canary_probe_interval_seconds",
            "Current interval between runs of this series (shorter while adaptive probing).",
            SERIES,
            registry=registry,
        )


class DriftFamilies:
    """Per (series, detector): the change detector's statistics, alarms and design."""

    def _declare_drift(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, documentation: str) -> Gauge:
            return Gauge(name, documentation, DETECTOR_SERIES, registry=registry)

        self.drift_ratio = gauge(
            "canary_drift_statistic_ratio",
            "Change statistic over its alarm threshold (alarm at 1).",
        )
        self.drift_alarm = gauge(
            "canary_drift_alarm",
            "1 while the change detector of this series is latched in alarm.",
        )
        self.drift_alarms = Counter(
            "canary_drift_alarms",
            "Alarms raised by the change detector.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_divergence_ratio = gauge(
            "canary_drift_divergence_ratio",
            "Cross-platform divergence statistic over its threshold (alarm at 1).",
        )
        self.drift_divergence_alarm = gauge(
            "canary_drift_divergence_alarm",
            "1 while this series' failure share diverges from its sibling platforms (latched).",
        )
        self.drift_baseline = gauge(
            "canary_drift_baseline_failure_rate",
            "Failure rate the change detector is designed on (upper bound; 0 while warming up).",
        )
        self.drift_warmup = gauge(
            "canary_drift_warmup",
            "1 while the series' baseline is still being learned (only the ceiling can page).",
        )
        self.drift_baseline_suspect = gauge(
            "canary_drift_baseline_suspect",
            "1 if the learned baseline exceeds the suite's golden failure rate.",
        )
        self.drift_arl0_target = gauge(
            "canary_drift_arl0_target_seconds",
            "This series' share of the false-page budget: mean time between false alarms.",
        )

    def drift_gauges(self) -> tuple[Gauge, ...]:
        """Every per-(series, detector) drift gauge, for pre-initialising and pruning."""
        return (
            self.drift_ratio,
            self.drift_alarm,
            self.drift_divergence_ratio,
            self.drift_divergence_alarm,
            self.drift_baseline,
            self.drift_warmup,
            self.drift_baseline_suspect,
            self.drift_arl0_target,
        )


class SchedulerFamilies:
    """The scheduler: missed, overlapping and failed jobs, and start lag."""

    def _declare_scheduler(self, registry: CollectorRegistry) -> None:
        self.scheduler_events = Counter(
            "canary_scheduler_events",
            "Scheduler jobs missed, skipped as still running, or failed.",
            ("event",),
            registry=registry,
        )
        self.scheduler_lag = Histogram(
            "canary_scheduler_lag_seconds",
            "Delay between a job's scheduled and actual start.",
            buckets=LAG_BUCKETS_S,
            registry=registry,
        )
        for event in SCHEDULER_EVENTS:
            self.scheduler_events.labels(event)


class StoreFamilies:
    """The result store: failed operations and retried PostgreSQL writes."""

    def _declare_store(self, registry: CollectorRegistry) -> None:
        self.store_errors = Counter(
            "canary_store_errors",
            "Store operations that failed.",
            ("operation",),
            registry=registry,
        )
        self.store_write_retries = Counter(
            "canary_store_write_retries",
            "PostgreSQL result writes retried on another connection (the server restarted or"
            " was unreachable); a write still failing at store.write_deadline_s counts in"
            " canary_store_errors_total.",
            registry=registry,
        )
        for operation in STORE_OPERATIONS:
            self.store_errors.labels(operation)


class ServerFamilies:
    """The HTTP server: connections dropped to stay within limits, the web config's state."""

    def _declare_server(self, registry: CollectorRegistry) -> None:
        self.http_connections_dropped = Counter(
            "canary_http_connections_dropped",
            "HTTP connections the server refused or closed to stay within its limits: limit"
            " (refused at the cap, every connection busy), idle_evicted (an idle one closed to"
            " make room), header_timeout, accept_failed (no file descriptor left).",
            ("reason",),
            registry=registry,
        )
        self.web_config_reload_success = Gauge(
            "canary_web_config_last_reload_successful",
            "1 if the web config (TLS, auth) was last read successfully; a broken edit keeps"
            " the previous one in force.",
            registry=registry,
        )
        self.web_config_reload_success.set(1)  # no web config: nothing has failed
        for reason in HTTP_DROP_REASONS:
            self.http_connections_dropped.labels(reason)


class ClusterFamilies:
    """Cluster mode: shards held, live replicas, and what a shard hand-over did to results."""

    def _declare_cluster(self, registry: CollectorRegistry) -> None:
        self.shard_info = Gauge(
            "canary_shard_info",
            "Cluster mode: one series per shard (model) this replica holds and probes; always 1.",
            ("replica", "shard"),
            registry=registry,
        )
        self.shards_held = Gauge(
            "canary_shards_held",
            "Cluster mode: how many shards (models) this replica holds.",
            ("replica",),
            registry=registry,
        )
        self.cluster_members = Gauge(
            "canary_cluster_members",
            "Cluster mode: live replicas this replica saw at its last heartbeat.",
            ("replica",),
            registry=registry,
        )
        self.results_fenced = Counter(
            "canary_results_fenced",
            "Cluster mode: results refused because the shard's lease moved while the run was"
            " in flight (a paused replica); not stored, counted or fed to drift state.",
            registry=registry,
        )
        self.handover_cancelled = Counter(
            "canary_shard_runs_cancelled",
            "Cluster mode: probe runs cancelled because their shard was handed over and they"
            " did not finish within the grace period.",
            registry=registry,
        )
