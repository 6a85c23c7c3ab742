"""Every Prometheus metric the daemon exports, defined in one place around an injected registry.

The catalogue is frozen by `tests/golden/metrics_catalogue.json`: renaming a metric or a label
breaks a test before it breaks a dashboard or an alert. Label values come only from config
(platform, pool, model, suite, detector) or closed sets (outcome, event, operation).
"""

from __future__ import annotations

import collections
import contextlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    disable_created_metrics,
)

from monitor import __version__
from monitor.detectors.code_blocks import LANGUAGE_LABELS
from monitor.detectors.scripts_sets import SCRIPT_LABELS
from monitor.types import Check, Outcome, Result

SERIES = ("platform", "pool", "model", "suite")
DETECTOR_SERIES = (*SERIES, "detector")
SCHEDULER_EVENTS = ("missed", "max_instances", "error")
STORE_OPERATIONS = ("write", "prune", "state", "lease")
# Why the HTTP server dropped a connection (monitor/connections.py).
HTTP_DROP_REASONS = ("limit", "idle_evicted", "header_timeout", "accept_failed")

_SCRIPT_SET = frozenset(SCRIPT_LABELS)
_LANGUAGE_SET = frozenset(LANGUAGE_LABELS)

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


class Metrics:
    """The daemon's metrics; build one per registry (tests use a fresh `CollectorRegistry`)."""

    def __init__(self, registry: CollectorRegistry, *, revision: str = "unknown") -> None:
        # `_created` series double the exposition and no dashboard or rule reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry
        self.build_info = Gauge(
            "canary_build_info",
            "Build of the running canary-monitor; always 1.",
            ("version", "revision"),
            registry=registry,
        )
        self.build_info.labels(__version__, revision).set(1)
        self.target_info = Gauge(
            "canary_target_info",
            "One series per configured target; always 1.",
            ("platform", "pool", "model", "api"),
            registry=registry,
        )
        self.probe_runs = Counter(
            "canary_probe_runs",
            "Probes run, by outcome.",
            (*SERIES, "outcome"),
            registry=registry,
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
        self.checks = Counter(
            "canary_checks",
            "Detector verdicts given (attempts beside the failures).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.check_failures = Counter(
            "canary_check_failures",
            "Detector verdicts that failed.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.check_score = Summary(
            "canary_check_score",
            "Detector scores in [0, 1]; 1 is a perfect reply.",
            DETECTOR_SERIES,
            registry=registry,
        )
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
        self.drift_ratio = Gauge(
            "canary_drift_statistic_ratio",
            "Change statistic over its alarm threshold (alarm at 1).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_alarm = Gauge(
            "canary_drift_alarm",
            "1 while the change detector of this series is latched in alarm.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_alarms = Counter(
            "canary_drift_alarms",
            "Alarms raised by the change detector.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_divergence_ratio = Gauge(
            "canary_drift_divergence_ratio",
            "Cross-platform divergence statistic over its threshold (alarm at 1).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_divergence_alarm = Gauge(
            "canary_drift_divergence_alarm",
            "1 while this series' failure share diverges from its sibling platforms (latched).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_baseline = Gauge(
            "canary_drift_baseline_failure_rate",
            "Failure rate the change detector is designed on (upper bound; 0 while warming up).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_warmup = Gauge(
            "canary_drift_warmup",
            "1 while the series' baseline is still being learned (only the ceiling can page).",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_baseline_suspect = Gauge(
            "canary_drift_baseline_suspect",
            "1 if the learned baseline exceeds the suite's golden failure rate.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.drift_arl0_target = Gauge(
            "canary_drift_arl0_target_seconds",
            "This series' share of the false-page budget: mean time between false alarms.",
            DETECTOR_SERIES,
            registry=registry,
        )
        self.probe_interval = Gauge(
            "canary_probe_interval_seconds",
            "Current interval between runs of this series (shorter while adaptive probing).",
            SERIES,
            registry=registry,
        )
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
        self.store_errors = Counter(
            "canary_store_errors",
            "Store operations that failed.",
            ("operation",),
            registry=registry,
        )
        self.http_connections_dropped = Counter(
            "canary_http_connections_dropped",
            "HTTP connections the server refused or closed to stay within its limits: limit"
            " (refused at the cap, every connection busy), idle_evicted (an idle one closed to"
            " make room), header_timeout, accept_failed (no file descriptor left).",
            ("reason",),
            registry=registry,
        )
        self._fault_counters(registry)
        self.internal_errors = Counter(
            "canary_internal_errors",
            "Unexpected exceptions caught around a probe (bugs).",
            registry=registry,
        )
        self.unexpected_script_chars = Counter(
            "canary_unexpected_script_chars",
            "Characters of scripts the probe did not allow (script from a fixed table).",
            (*SERIES, "script"),
            registry=registry,
        )
        self.code_syntax_failures = Counter(
            "canary_code_syntax_failures",
            "Code blocks that did not parse, by canonical language.",
            (*SERIES, "language"),
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
        self.reload_success = Gauge(
            "canary_config_last_reload_successful",
            "1 if the last config load succeeded.",
            registry=registry,
        )
        self.web_config_reload_success = Gauge(
            "canary_web_config_last_reload_successful",
            "1 if the web config (TLS, auth) was last read successfully; a broken edit keeps"
            " the previous one in force.",
            registry=registry,
        )
        self.web_config_reload_success.set(1)  # no web config: nothing has failed
        self.reload_timestamp = Gauge(
            "canary_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.",
            registry=registry,
        )
        self._initialise_closed_sets()
        self._targets: set[TargetInfo] = set()
        self._identities: dict[tuple[str, str, str], str] = {}
        self._series: dict[SeriesKey, float] = {}
        self._detectors: set[tuple[SeriesKey, str]] = set()
        self._streamed: set[SeriesKey] = set()
        self._shards: set[tuple[str, str]] = set()

    def _initialise_closed_sets(self) -> None:
        """Zeros for the series whose labels come from a closed set (no config needed)."""
        for event in SCHEDULER_EVENTS:
            self.scheduler_events.labels(event)
        for operation in STORE_OPERATIONS:
            self.store_errors.labels(operation)
        for reason in HTTP_DROP_REASONS:
            self.http_connections_dropped.labels(reason)
    def _fault_counters(self, registry: CollectorRegistry) -> None:
        """Counters of what a database restart or a shard hand-over did to results."""
        self.store_write_retries = Counter(
            "canary_store_write_retries",
            "PostgreSQL result writes retried on another connection (the server restarted or"
            " was unreachable); a write still failing at store.write_deadline_s counts in"
            " canary_store_errors_total.",
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

    def configure(
        self,
        targets: Iterable[TargetInfo],
        series: dict[SeriesKey, float],
        detectors: Iterable[tuple[SeriesKey, str]],
        streamed: Iterable[SeriesKey] = (),
    ) -> None:
        """Pre-initialise every configured series; remove those that left the config.

        `series` maps each series to its interval in seconds; `detectors` lists the
        (series, detector) pairs the suites' expectations can produce; `streamed` the series
        with streamed probes, whose time-to-first-token and rate histograms exist too.
        """
        new_targets, new_detectors = set(targets), set(detectors)
        for info in self._targets - new_targets:
            self.target_info.remove(info.platform, info.pool, info.model, info.api)
            for metric in (self.backend_identity, self.backend_changes):
                _discard(metric, (info.platform, info.pool, info.model))
            self._identities.pop((info.platform, info.pool, info.model), None)
        for info in new_targets:
            self.target_info.labels(info.platform, info.pool, info.model, info.api).set(1)
            self.backend_changes.labels(info.platform, info.pool, info.model)
        for key in set(self._series) - set(series):
            self._remove_series(key)
        streaming = set(streamed)
        for key in self._streamed - streaming:
            for histogram in (self.time_to_first_token, self.output_tokens_per_second):
                _discard(histogram, key.labels())
        for key in streaming:
            self.time_to_first_token.labels(*key.labels())
            self.output_tokens_per_second.labels(*key.labels())
        self._streamed = streaming
        # Only series new or changed since the last call: the others were initialised then and
        # never removed since (at 10,000 series, touching them all again takes seconds).
        changed = {k: v for k, v in series.items() if self._series.get(k) != v}
        for key, interval_s in changed.items():
            self._init_series(key, interval_s, new=key not in self._series)
        for key, detector in self._detectors - new_detectors:
            self._remove_detector(key, detector)
        for key, detector in new_detectors - self._detectors:
            detector_labels = (*key.labels(), detector)
            for family in (self.checks, self.check_failures, self.check_score, self.drift_alarms):
                family.labels(*detector_labels)
            for gauge in self._drift_gauges():
                gauge.labels(*detector_labels)
            self._init_detector_labels(key, detector)
        self._targets, self._series, self._detectors = new_targets, dict(series), new_detectors

    def set_shards(self, replica: str, shards: Iterable[str], members: int) -> None:
        """Cluster mode: the shards this replica holds now (others' are removed)."""
        held = set(shards)
        for labels in [k for k in self._shards if k[0] != replica or k[1] not in held]:
            _discard(self.shard_info, labels)
            self._shards.discard(labels)
        for shard in held:
            self.shard_info.labels(replica, shard).set(1)
            self._shards.add((replica, shard))
        self.shards_held.labels(replica).set(len(held))
        self.cluster_members.labels(replica).set(members)

    def set_drift_state(
        self,
        series: tuple[str, ...],
        *,
        ratio: float,
        alarmed: bool,
        divergence_ratio: float,
        divergence_alarmed: bool,
    ) -> None:
        """The per-observation drift gauges of one series (ratios capped at 2)."""
        self.drift_ratio.labels(*series).set(min(ratio, 2.0))
        self.drift_alarm.labels(*series).set(1 if alarmed else 0)
        self.drift_divergence_ratio.labels(*series).set(min(divergence_ratio, 2.0))
        self.drift_divergence_alarm.labels(*series).set(1 if divergence_alarmed else 0)

    def set_skipped(self, skipped: Iterable[tuple[SeriesKey, str]]) -> None:
        """Replace the skipped-probe counts: one (series, capability) pair per skipped probe."""
        self.probes_skipped.clear()
        for (key, capability), count in collections.Counter(skipped).items():
            self.probes_skipped.labels(*key.labels(), capability).set(count)

    def _init_series(self, key: SeriesKey, interval_s: float, *, new: bool) -> None:
        labels = key.labels()
        for outcome in Outcome:
            self.probe_runs.labels(*labels, outcome.value)
        self.probe_duration.labels(*labels)
        self.last_run.labels(*labels)
        self.last_success.labels(*labels)
        self.suite_interval.labels(*labels).set(interval_s)
        if new:  # adaptive probing owns it afterwards
            self.probe_interval.labels(*labels).set(interval_s)

    def _remove_series(self, key: SeriesKey) -> None:
        labels = key.labels()
        for outcome in Outcome:
            _discard(self.probe_runs, (*labels, outcome.value))
        for metric in (
            self.probe_duration,
            self.time_to_first_token,
            self.output_tokens_per_second,
            self.last_run,
            self.last_success,
            self.suite_interval,
            self.probe_interval,
        ):
            _discard(metric, labels)

    def _remove_detector(self, key: SeriesKey, detector: str) -> None:
        labels = (*key.labels(), detector)
        for metric in (
            self.checks,
            self.check_failures,
            self.check_score,
            self.drift_alarms,
        ):
            _discard(metric, labels)
        for gauge in self._drift_gauges():
            _discard(gauge, labels)
        self._remove_detector_labels(key, detector)

    def _drift_gauges(self) -> tuple[Gauge, ...]:
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

    def _init_detector_labels(self, key: SeriesKey, detector: str) -> None:
        if detector == "unexpected_script":
            for script in SCRIPT_LABELS:
                self.unexpected_script_chars.labels(*key.labels(), script)
        elif detector == "code_syntax":
            for language in LANGUAGE_LABELS:
                self.code_syntax_failures.labels(*key.labels(), language)

    def _remove_detector_labels(self, key: SeriesKey, detector: str) -> None:
        if detector == "unexpected_script":
            for script in SCRIPT_LABELS:
                _discard(self.unexpected_script_chars, (*key.labels(), script))
        elif detector == "code_syntax":
            for language in LANGUAGE_LABELS:
                _discard(self.code_syntax_failures, (*key.labels(), language))

    def _observe_evidence(self, labels: tuple[str, str, str, str], check: Check) -> None:
        """Per-script and per-language counters from a check's evidence (bounded label tables)."""
        if check.detector == "unexpected_script":
            for script, count in dict(check.evidence.get("counts") or {}).items():
                if script in _SCRIPT_SET and isinstance(count, int) and count > 0:
                    self.unexpected_script_chars.labels(*labels, script).inc(count)
        elif check.detector == "code_syntax" and not check.passed:
            language = check.evidence.get("language")
            if language in _LANGUAGE_SET:
                self.code_syntax_failures.labels(*labels, str(language)).inc()

    def observe_backend(self, platform: str, pool: str, model: str, identity: str) -> None:
        """Record which backend served a reply; count a change from the previous one."""
        key = (platform, pool, model)
        previous = self._identities.get(key)
        if previous is not None and previous != identity:
            self.backend_changes.labels(*key).inc()
        self._identities[key] = identity
        self.backend_identity.labels(*key).set(zlib.crc32(identity.encode()))

    def observe(self, result: Result, finished_at: float) -> None:
        """Count one finished probe."""
        labels = (result.platform, result.pool, result.model, result.suite)
        self.probe_runs.labels(*labels, result.outcome.value).inc()
        self.probe_duration.labels(*labels).observe(result.latency_s)
        if result.reply is not None:
            if result.reply.time_to_first_token_s is not None:
                self.time_to_first_token.labels(*labels).observe(result.reply.time_to_first_token_s)
            if result.reply.output_tokens_per_s is not None:
                self.output_tokens_per_second.labels(*labels).observe(
                    result.reply.output_tokens_per_s
                )
        self.last_run.labels(*labels).set(finished_at)
        if result.outcome is Outcome.PASSED:
            self.last_success.labels(*labels).set(finished_at)
        for check in result.checks:
            detector_labels = (*labels, check.detector)
            self.checks.labels(*detector_labels).inc()
            self.check_score.labels(*detector_labels).observe(check.score)
            if not check.passed:
                self.check_failures.labels(*detector_labels).inc()
            self._observe_evidence(labels, check)


def _discard(metric: Counter | Gauge | Histogram | Summary, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
