"""One series' detector state, and how observations become integer increments.

A series (platform, pool, model, suite, detector) owns one latched bank (the absolute ceiling,
the rate members once its baseline is warm, the score members once scores are) and one latched
divergence bank. Both are `cusum.Latch`es over `designs.Slot`s; this module turns pass/fail and
scores into their increments, one at a time or as numpy columns, and re-targets statistics when
a design changes (kept in nats, rounded down: a redesign never raises a statistic, and never
alarms by itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.drift.baseline import Counts
from monitor.drift.cusum import BankShape, IntArray, Latch
from monitor.drift.designs import Slot
from monitor.drift.scores import BINS, bin_of

SeriesId = tuple[str, str, str, str, str]  # platform, pool, model, suite, detector
PoolKey = tuple[str, str, str, str]  # model, suite, detector, version


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """A configured series and how often it is observed (its share of the page budget).

    `fast_observations_per_s` is the pace under adaptive probing (0: never faster); `version`
    names the model and suite version, and a new one starts a new baseline.
    """

    series: SeriesId
    observations_per_s: float
    fast_observations_per_s: float = 0.0
    version: str = ""

    @property
    def key(self) -> PoolKey:
        _, _, model, suite, detector = self.series
        return (model, suite, detector, self.version)


@dataclass(slots=True)
class Tally:
    """What one series saw in the current hour, for the clean-data baseline update.

    An hour is clean if it started with every statistic below half its threshold and no alarm,
    and raised none. Judging an hour by its start, not by its own peak, keeps the selection
    independent of the hour's own failures: selecting hours by their peak would drop exactly
    the hours with more failures and bias the baseline low (and the false-alarm rate high).
    """

    failures: int = 0
    trials: int = 0
    scores: list[float] | None = None  # histogram by score bin, once a score arrived
    start: float = 0.0  # statistic ratio when the hour began
    alarmed: bool = False  # alarmed at the start or during the hour

    @property
    def clean(self) -> bool:
        return not self.alarmed and self.start < 0.5


@dataclass(slots=True)
class SeriesState:
    """Everything the engine keeps for one series; `statistic`, `ratio`, `alarmed` for callers."""

    plan: SeriesPlan
    slots: tuple[Slot, ...] = ()
    latch: Latch = field(default_factory=Latch)
    div_slots: tuple[Slot, ...] = ()
    div_latch: Latch = field(default_factory=Latch)
    own: Counts = field(default_factory=Counts)
    tally: Tally = field(default_factory=Tally)
    rate: float | None = None  # the failure rate the bank is designed on (None: warming up)
    arl_target_s: float = 0.0
    scored: bool = False  # score members active
    binary_seen: bool = False
    score_seen: bool = False
    observations: int = 0
    alarms: int = 0
    inputs: tuple[object, ...] = ()  # what the current design was made from
    last_trials: int | None = None  # verdicts in the last full hour (None: no hour yet)

    shape: BankShape = field(default_factory=lambda: BankShape((), ()))
    div_shape: BankShape = field(default_factory=lambda: BankShape((), ()))

    def set_slots(self, slots: tuple[Slot, ...]) -> None:
        """New bank members; statistics carried over (see `retarget`)."""
        retarget(self.latch, self.slots, slots)
        self.slots, self.shape = slots, shape_of(slots)

    def set_div_slots(self, slots: tuple[Slot, ...]) -> None:
        retarget(self.div_latch, self.div_slots, slots)
        self.div_slots, self.div_shape = slots, shape_of(slots)

    @property
    def statistic(self) -> float:
        """The highest member statistic, in nats."""
        return max((z * s.unit for z, s in zip(self.latch.z, self.slots, strict=True)), default=0.0)

    @property
    def bank_ratio(self) -> float:
        return self.shape.ratio(self.latch.z)

    @property
    def divergence_ratio(self) -> float:
        return self.div_shape.ratio(self.div_latch.z)

    @property
    def ratio(self) -> float:
        """Statistic over threshold, the highest of all members (alarm at 1, capped at 2)."""
        return max(self.bank_ratio, self.divergence_ratio)

    @property
    def alarmed(self) -> bool:
        return self.latch.alarmed or self.div_latch.alarmed


def shape_of(slots: tuple[Slot, ...]) -> BankShape:
    return BankShape(tuple(s.top for s in slots), tuple(s.rtop for s in slots))


def increments(slots: tuple[Slot, ...], failed: bool | None, score: float | None) -> list[int]:
    """One observation's increment for every slot (0 where the slot has nothing to read)."""
    out = []
    for slot in slots:
        if slot.score:
            out.append(0 if score is None else slot.table[bin_of(score)])
        elif failed is None:
            out.append(0)
        else:
            out.append(slot.up if failed else -slot.down)
    return out


def increment_matrix(
    slots: tuple[Slot, ...], failed: npt.NDArray[np.int8], bins: IntArray | None
) -> IntArray:
    """`increments` for columns: failed is 1, 0 or -1 (none); bins is a score bin or -1."""
    binary = [j for j, s in enumerate(slots) if not s.score]
    w = np.zeros((len(slots), failed.shape[0]), dtype=np.int64)
    if binary:
        ups = np.array([slots[j].up for j in binary], dtype=np.int64)[:, None]
        downs = np.array([slots[j].down for j in binary], dtype=np.int64)[:, None]
        w[binary] = np.where(failed == 1, ups, np.where(failed == 0, -downs, 0))
    if bins is not None:
        for j, slot in enumerate(slots):
            if slot.score:
                table = np.array(slot.table, dtype=np.int64)
                w[j] = np.where(bins >= 0, table[np.clip(bins, 0, BINS - 1)], 0)
    return w


def retarget(latch: Latch, old: tuple[Slot, ...], new: tuple[Slot, ...]) -> None:
    """Carry statistics over a redesign by member name, in nats, rounded down, below the new
    threshold (an alarmed latch keeps its alarm and its alarmed member where it still exists)."""
    nats = {s.name: z * s.unit for s, z in zip(old, latch.z, strict=False)}
    alarmed_name = old[latch.slot].name if latch.alarmed and 0 <= latch.slot < len(old) else None
    z = []
    for slot in new:
        value = int(nats.get(slot.name, 0.0) / slot.unit + 1e-9)
        z.append(min(value, 2 * slot.top if latch.alarmed else slot.top - 1))
    latch.z = z
    if latch.alarmed:
        names = [s.name for s in new]
        latch.slot = names.index(alarmed_name) if alarmed_name in names else 0
        if not new:
            latch.alarmed, latch.slot, latch.reverse = False, -1, 0


def latch_json(latch: Latch, slots: tuple[Slot, ...]) -> dict[str, Any]:
    return {
        "z": {s.name: [z, s.unit] for s, z in zip(slots, latch.z, strict=True)},
        "alarmed": latch.alarmed,
        "reverse": latch.reverse,
        "slot": slots[latch.slot].name if 0 <= latch.slot < len(slots) else None,
    }


def latch_from_json(data: dict[str, Any], slots: tuple[Slot, ...]) -> Latch:
    """A saved latch onto the current slots (statistics converted through nats)."""
    saved = data.get("z", {})
    names = [s.name for s in slots]
    z = []
    for slot in slots:
        value, unit = saved.get(slot.name, (0, slot.unit))
        z.append(min(int(float(value) * float(unit) / slot.unit + 1e-9), 2 * slot.top))
    alarmed = bool(data.get("alarmed")) and bool(slots)
    slot_name = data.get("slot")
    index = names.index(slot_name) if alarmed and slot_name in names else (0 if alarmed else -1)
    latch = Latch(z, alarmed, int(data.get("reverse", 0)) if alarmed else 0, index)
    if not alarmed:
        latch.z = [min(v, s.top - 1) for v, s in zip(z, slots, strict=True)]
    return latch
