"""Every Prometheus metric the daemon exports, around an injected registry.

Each concern declares its own families (`families.py`: process, targets, probes, drift,
scheduler, store, server, cluster; `detectors.py`: verdicts and the counters each detector
module declares in its descriptor), and `Metrics` gathers them: it pre-initialises the
configured series, prunes those that leave the config, and counts finished probes.

The catalogue is frozen by `tests/golden/metrics_catalogue.json`: renaming a metric or a label
breaks a test before it breaks a dashboard or an alert. Label values come only from config
(platform, pool, model, suite, detector) or closed sets (outcome, event, operation).
"""

from __future__ import annotations

import collections
import zlib
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, disable_created_metrics

from monitor.metrics.detectors import CheckFamilies
from monitor.metrics.families import (
    DETECTOR_SERIES,
    DURATION_BUCKETS_S,
    HTTP_DROP_REASONS,
    LAG_BUCKETS_S,
    SCHEDULER_EVENTS,
    SERIES,
    STORE_OPERATIONS,
    TOKENS_PER_S_BUCKETS,
    TTFT_BUCKETS_S,
    ClusterFamilies,
    DriftFamilies,
    ProbeFamilies,
    ProcessFamilies,
    SchedulerFamilies,
    SeriesKey,
    ServerFamilies,
    StoreFamilies,
    TargetFamilies,
    TargetInfo,
    discard,
)
from monitor.types import Outcome, Result

__all__ = [
    "DETECTOR_SERIES",
    "DURATION_BUCKETS_S",
    "HTTP_DROP_REASONS",
    "LAG_BUCKETS_S",
    "SCHEDULER_EVENTS",
    "SERIES",
    "STORE_OPERATIONS",
    "TOKENS_PER_S_BUCKETS",
    "TTFT_BUCKETS_S",
    "Metrics",
    "SeriesKey",
    "TargetInfo",
]


class Metrics(
    ProcessFamilies,
    TargetFamilies,
    ProbeFamilies,
    CheckFamilies,
    DriftFamilies,
    SchedulerFamilies,
    StoreFamilies,
    ServerFamilies,
    ClusterFamilies,
):
    """The daemon's metrics; build one per registry (tests use a fresh `CollectorRegistry`)."""

    def __init__(self, registry: CollectorRegistry, *, revision: str = "unknown") -> None:
        # `_created` series double the exposition and no dashboard or rule reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry
        self._declare_process(registry, revision)
        self._declare_targets(registry)
        self._declare_probes(registry)
        self._declare_checks(registry)
        self._declare_drift(registry)
        self._declare_scheduler(registry)
        self._declare_store(registry)
        self._declare_server(registry)
        self._declare_cluster(registry)
        self._targets: set[TargetInfo] = set()
        self._identities: dict[tuple[str, str, str], str] = {}
        self._series: dict[SeriesKey, float] = {}
        self._detectors: set[tuple[SeriesKey, str]] = set()
        self._streamed: set[SeriesKey] = set()
        self._shards: set[tuple[str, str]] = set()

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
        self._configure_targets(set(targets))
        for key in set(self._series) - set(series):
            self._remove_series(key)
        self._configure_streamed(set(streamed))
        # Only series new or changed since the last call: the others were initialised then and
        # never removed since (at 10,000 series, touching them all again takes seconds).
        changed = {k: v for k, v in series.items() if self._series.get(k) != v}
        for key, interval_s in changed.items():
            self._init_series(key, interval_s, new=key not in self._series)
        new_detectors = set(detectors)
        for key, detector in self._detectors - new_detectors:
            self._remove_detector(key, detector)
        for key, detector in new_detectors - self._detectors:
            self._init_detector(key, detector)
        self._series, self._detectors = dict(series), new_detectors

    def _configure_targets(self, new_targets: set[TargetInfo]) -> None:
        for info in self._targets - new_targets:
            self.target_info.remove(info.platform, info.pool, info.model, info.api)
            for metric in (self.backend_identity, self.backend_changes):
                discard(metric, (info.platform, info.pool, info.model))
            self._identities.pop((info.platform, info.pool, info.model), None)
        for info in new_targets:
            self.target_info.labels(info.platform, info.pool, info.model, info.api).set(1)
            self.backend_changes.labels(info.platform, info.pool, info.model)
        self._targets = new_targets

    def _configure_streamed(self, streaming: set[SeriesKey]) -> None:
        for key in self._streamed - streaming:
            for histogram in (self.time_to_first_token, self.output_tokens_per_second):
                discard(histogram, key.labels())
        for key in streaming:
            self.time_to_first_token.labels(*key.labels())
            self.output_tokens_per_second.labels(*key.labels())
        self._streamed = streaming

    def set_shards(self, replica: str, shards: Iterable[str], members: int) -> None:
        """Cluster mode: the shards this replica holds now (others' are removed)."""
        held = set(shards)
        for labels in [k for k in self._shards if k[0] != replica or k[1] not in held]:
            discard(self.shard_info, labels)
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
            discard(self.probe_runs, (*labels, outcome.value))
        for metric in (
            self.probe_duration,
            self.time_to_first_token,
            self.output_tokens_per_second,
            self.last_run,
            self.last_success,
            self.suite_interval,
            self.probe_interval,
        ):
            discard(metric, labels)

    def _init_detector(self, key: SeriesKey, detector: str) -> None:
        """Zeros for a (series, detector) pair: verdicts, its own counters, drift state."""
        self._init_checks(key, detector)
        detector_labels = (*key.labels(), detector)
        self.drift_alarms.labels(*detector_labels)
        for gauge in self.drift_gauges():
            gauge.labels(*detector_labels)

    def _remove_detector(self, key: SeriesKey, detector: str) -> None:
        self._remove_checks(key, detector)
        detector_labels = (*key.labels(), detector)
        discard(self.drift_alarms, detector_labels)
        for gauge in self.drift_gauges():
            discard(gauge, detector_labels)

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
            self._observe_check(labels, check)
