"""What a detector module declares about itself, as data: the registry's entries.

Each `monitor/detectors/<family>.py` ends with one `DETECTOR = Detector(...)`: its stable name,
the incident class it guards, which expectations it needs, the reasons a failed check can give,
how it judges (one reply, or a reply under load against the same probe alone) and the metric
families it owns. The daemon, metrics, drift plans and the runner read these descriptors and
never name a detector, so adding one is a new module (plus its tests) and a line in the
registry.

Like the detectors themselves, a descriptor is pure: its functions read a `Check` or an
`Expectation` and return values; creating and incrementing Prometheus series is the metrics
layer's job (`monitor/metrics/detectors.py`), so no detector imports `prometheus_client`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.config.expectation import Expectation
from monitor.types import Check, Reply

#: Judge one reply; None when there is nothing to judge (the expectation unset, no code...).
CheckFn = Callable[[Reply, Expectation], Check | None]
#: Judge a reply sent inside a concurrent burst against the same probe's reply sent alone.
CompareFn = Callable[[Reply, Reply], Check]
#: What one check adds to an evidence counter: (label value, amount) pairs.
CountFn = Callable[[Check], Iterable[tuple[str, float]]]


def always(expect: Expectation) -> bool:
    """Every probe: for a detector that needs no expectation (pair detectors, say)."""
    return True


@dataclass(frozen=True, slots=True)
class EvidenceCounter:
    """A counter family a detector owns, fed from its checks' evidence.

    Exported as `<name>_total{platform,pool,model,suite,<label>}`, one series per value of the
    fixed table `values` pre-initialised for every series whose suite can report the detector,
    and removed with it. `count(check)` yields what one check adds; a value outside `values` is
    dropped (label values come from a fixed table, never from a reply).
    """

    name: str  # without `_total`, as prometheus_client takes it
    help: str
    label: str
    values: tuple[str, ...]
    count: CountFn


@dataclass(frozen=True, slots=True)
class Detector:
    """One detector, as the rest of the daemon sees it.

    - `name`: the stable identifier (the `detector` label, `canary detect --detectors`, the
      drift series key); never renamed.
    - `incident`: the incident class it guards; the module docstring names it too.
    - `applies(expect)`: whether a probe with this expectation can report the detector (it
      decides which series exist and at which rate drift expects observations).
    - `reasons`: why a failed check of this detector can fail, the words its evidence uses.
    - `check` for a detector of one reply, or `compare` for one that judges each burst copy
      against the reply sent alone (only bindings with `burst > 0` report those).
    - `families`: the evidence counters it owns, beside the `canary_checks_total` family
      every detector shares.
    """

    name: str
    incident: str
    applies: Callable[[Expectation], bool]
    reasons: tuple[str, ...]
    check: CheckFn | None = None
    compare: CompareFn | None = None
    families: tuple[EvidenceCounter, ...] = ()

    def __post_init__(self) -> None:
        if (self.check is None) == (self.compare is None):
            raise ValueError(f"detector {self.name}: set `check` or `compare`, not both")

    def reports_per_probe(self, burst: int) -> int:
        """Checks one applicable probe yields per run with `burst` concurrent copies: every
        reply for a one-reply detector, every copy for a pair detector (none without a burst)."""
        return burst if self.compare is not None else 1 + burst
