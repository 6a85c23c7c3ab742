"""Every Prometheus metric the daemon exports, defined in one place around an injected registry.

The catalogue is frozen by `tests/golden/metrics_catalogue.json`: renaming a metric or a label
breaks a test before it breaks a dashboard or an alert. Label values come only from config
(platform, pool, model, suite, detector) or closed sets (outcome, event, operation).
"""

from __future__ import annotations

import contextlib
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
from monitor.types import Outcome, Result

SERIES = ("platform", "pool", "model", "suite")
DETECTOR_SERIES = (*SERIES, "detector")
SCHEDULER_EVENTS = ("missed", "max_instances", "error")
STORE_OPERATIONS = ("write", "prune", "state")

# LLM replies take from a fraction of a second to minutes.
DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
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
        self.internal_errors = Counter(
            "canary_internal_errors",
            "Unexpected exceptions caught around a probe (bugs).",
            registry=registry,
        )
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
        for event in SCHEDULER_EVENTS:
            self.scheduler_events.labels(event)
        for operation in STORE_OPERATIONS:
            self.store_errors.labels(operation)
        self._targets: set[TargetInfo] = set()
        self._series: dict[SeriesKey, float] = {}
        self._detectors: set[tuple[SeriesKey, str]] = set()

    def configure(
        self,
        targets: Iterable[TargetInfo],
        series: dict[SeriesKey, float],
        detectors: Iterable[tuple[SeriesKey, str]],
    ) -> None:
        """Pre-initialise every configured series; remove those that left the config.

        `series` maps each series to its interval in seconds; `detectors` lists the
        (series, detector) pairs the suites' expectations can produce.
        """
        new_targets, new_detectors = set(targets), set(detectors)
        for info in self._targets - new_targets:
            self.target_info.remove(info.platform, info.pool, info.model, info.api)
        for info in new_targets:
            self.target_info.labels(info.platform, info.pool, info.model, info.api).set(1)
        for key in set(self._series) - set(series):
            self._remove_series(key)
        for key, interval_s in series.items():
            labels = key.labels()
            for outcome in Outcome:
                self.probe_runs.labels(*labels, outcome.value)
            self.probe_duration.labels(*labels)
            self.last_run.labels(*labels)
            self.last_success.labels(*labels)
            self.suite_interval.labels(*labels).set(interval_s)
        for key, detector in self._detectors - new_detectors:
            self._remove_detector(key, detector)
        for key, detector in new_detectors:
            detector_labels = (*key.labels(), detector)
            for metric in (self.checks, self.check_failures, self.check_score, self.drift_alarms):
                metric.labels(*detector_labels)
            self.drift_ratio.labels(*detector_labels)
            self.drift_alarm.labels(*detector_labels)
        self._targets, self._series, self._detectors = new_targets, dict(series), new_detectors

    def _remove_series(self, key: SeriesKey) -> None:
        labels = key.labels()
        for outcome in Outcome:
            _discard(self.probe_runs, (*labels, outcome.value))
        for metric in (self.probe_duration, self.last_run, self.last_success, self.suite_interval):
            _discard(metric, labels)

    def _remove_detector(self, key: SeriesKey, detector: str) -> None:
        labels = (*key.labels(), detector)
        for metric in (
            self.checks,
            self.check_failures,
            self.check_score,
            self.drift_alarms,
            self.drift_ratio,
            self.drift_alarm,
        ):
            _discard(metric, labels)

    def observe(self, result: Result, finished_at: float) -> None:
        """Count one finished probe."""
        labels = (result.platform, result.pool, result.model, result.suite)
        self.probe_runs.labels(*labels, result.outcome.value).inc()
        self.probe_duration.labels(*labels).observe(result.latency_s)
        self.last_run.labels(*labels).set(finished_at)
        if result.outcome is Outcome.PASSED:
            self.last_success.labels(*labels).set(finished_at)
        for check in result.checks:
            detector_labels = (*labels, check.detector)
            self.checks.labels(*detector_labels).inc()
            self.check_score.labels(*detector_labels).observe(check.score)
            if not check.passed:
                self.check_failures.labels(*detector_labels).inc()


def _discard(metric: Counter | Gauge | Histogram | Summary, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
