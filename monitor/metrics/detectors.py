"""The detectors' families: verdicts every detector shares, and each one's own counters.

`canary_checks_total`, `canary_check_failures_total` and `canary_check_score` carry a
`detector` label; the evidence counters are declared by the detector modules themselves
(`Detector.families` in `monitor/detectors/`), read here from the registry, so this module
never names a detector. Series exist only for the (series, detector) pairs a suite's
expectations can produce, and go when the pair leaves the config.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Summary

from monitor.detectors import REGISTRY
from monitor.detectors.descriptor import EvidenceCounter
from monitor.metrics.families import DETECTOR_SERIES, SERIES, SeriesKey, discard
from monitor.types import Check


class _Evidence:
    """One detector-declared counter family and its bounded label table."""

    def __init__(self, spec: EvidenceCounter, registry: CollectorRegistry) -> None:
        self.spec = spec
        self.values = frozenset(spec.values)
        self.counter = Counter(spec.name, spec.help, (*SERIES, spec.label), registry=registry)


class CheckFamilies:
    """Detector verdicts by (series, detector), plus the registry's evidence counters."""

    def _declare_checks(self, registry: CollectorRegistry) -> None:
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
        #: Detector name -> the counter families it declared.
        self.evidence: dict[str, tuple[_Evidence, ...]] = {
            name: tuple(_Evidence(spec, registry) for spec in detector.families)
            for name, detector in REGISTRY.items()
        }

    def _check_families(self) -> tuple[Counter | Summary, ...]:
        return (self.checks, self.check_failures, self.check_score)

    def _init_checks(self, key: SeriesKey, detector: str) -> None:
        """Zeros for every series of one (series, detector) pair."""
        for family in self._check_families():
            family.labels(*key.labels(), detector)
        for evidence in self.evidence.get(detector, ()):
            for value in evidence.spec.values:
                evidence.counter.labels(*key.labels(), value)

    def _remove_checks(self, key: SeriesKey, detector: str) -> None:
        for family in self._check_families():
            discard(family, (*key.labels(), detector))
        for evidence in self.evidence.get(detector, ()):
            for value in evidence.spec.values:
                discard(evidence.counter, (*key.labels(), value))

    def _observe_check(self, labels: tuple[str, str, str, str], check: Check) -> None:
        """One verdict: attempts, failures, score, and what its evidence adds to the
        detector's own counters (values outside their fixed tables are dropped)."""
        detector_labels = (*labels, check.detector)
        self.checks.labels(*detector_labels).inc()
        self.check_score.labels(*detector_labels).observe(check.score)
        if not check.passed:
            self.check_failures.labels(*detector_labels).inc()
        for evidence in self.evidence.get(check.detector, ()):
            for value, amount in evidence.spec.count(check):
                if value in evidence.values:
                    evidence.counter.labels(*labels, value).inc(amount)
