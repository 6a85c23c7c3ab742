"""A bank of integer CUSUMs behind one latched alarm: the per-series state machine.

Every member ("slot") of a series' bank turns an observation into an integer increment: a
Bernoulli slot adds `up` on a failure and subtracts `down` on a success; a score slot looks its
increment up in a table by score bin. The statistic is floored at 0. The series alarms when any
slot reaches its `top`; the alarm then latches (no re-alarm, no flapping), every statistic keeps
running but is capped at twice its threshold (so a long incident cannot wind it up without
bound), and the alarm clears only when the reverse test of the slot that alarmed (the same
increments negated: the likelihood ratio of "back to baseline" against "still shifted") reaches
its own threshold. Recovery resets every statistic to 0. Missing data is an increment of 0, so
a silence never moves a statistic, and never resets one.

`step` handles one observation (the daemon); `run` handles an array of observations for one
series with numpy (replay and the benchmark). They implement the same integer recursion and
produce identical states and events; tests hold them to that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class Latch:
    """The persisted state of one series' bank."""

    z: list[int] = field(default_factory=list)  # one lattice statistic per slot
    alarmed: bool = False
    reverse: int = 0  # reverse statistic of the slot that alarmed, while alarmed
    slot: int = -1  # index of the slot that alarmed


@dataclass(frozen=True, slots=True)
class BankShape:
    """Thresholds of a bank, slot by slot: alarm at `tops`, cap at `caps`, recover at `rtops`."""

    tops: tuple[int, ...]
    rtops: tuple[int, ...]

    @property
    def caps(self) -> tuple[int, ...]:
        return tuple(2 * t for t in self.tops)

    def ratio(self, z: list[int]) -> float:
        return max((v / t for v, t in zip(z, self.tops, strict=True)), default=0.0)


@dataclass(slots=True)
class RunResult:
    """Events of one `run` as (observation index, event, slot, statistic ratio)."""

    events: list[tuple[int, str, int, float]] = field(default_factory=list)
    alarmed: bool = False  # the series was alarmed at some point of the run


def _pick(z: list[int], tops: tuple[int, ...]) -> tuple[int, float]:
    """The slot that alarms: the crossing slot with the highest ratio (lowest index on ties)."""
    best, best_ratio = -1, -1.0
    for j, (v, t) in enumerate(zip(z, tops, strict=True)):
        ratio = v / t
        if v >= t and ratio > best_ratio:
            best, best_ratio = j, ratio
    return best, best_ratio


def step(latch: Latch, shape: BankShape, w: list[int]) -> tuple[str, int, float] | None:
    """One observation (increments `w`, one per slot): the new state, and an event if any."""
    caps = shape.caps
    latch.z = [min(c, max(0, v + d)) for v, d, c in zip(latch.z, w, caps, strict=True)]
    if not latch.alarmed:
        slot, ratio = _pick(latch.z, shape.tops)
        if slot < 0:
            return None
        latch.alarmed, latch.slot, latch.reverse = True, slot, 0
        return "alarm", slot, ratio
    latch.reverse = max(0, latch.reverse - w[latch.slot])
    if latch.reverse < shape.rtops[latch.slot]:
        return None
    ratio, slot = shape.ratio(latch.z), latch.slot
    latch.z = [0] * len(latch.z)
    latch.alarmed, latch.slot, latch.reverse = False, -1, 0
    return "recovered", slot, ratio


def _capped(z0: list[int], w: IntArray, caps: tuple[int, ...]) -> list[int]:
    """The floored and capped walk's end values; a loop, used only while alarmed."""
    out = []
    for j, cap in enumerate(caps):
        v = z0[j]
        for d in w[j].tolist():
            v = min(cap, max(0, v + d))
        out.append(v)
    return out


def run(latch: Latch, shape: BankShape, w: IntArray) -> RunResult:
    """Observations `w` (slots x observations) through the bank, vectorised between events."""
    result = RunResult()
    tops = np.array(shape.tops, dtype=np.int64)[:, None]
    caps = shape.caps
    pos, n = 0, w.shape[1]
    while pos < n:
        seg = w[:, pos:]
        if not latch.alarmed:
            total = np.cumsum(seg, axis=1)
            floor = np.minimum.accumulate(
                np.minimum(total, -np.array(latch.z, dtype=np.int64)[:, None]), axis=1
            )
            z = total - floor
            crossed = (z >= tops).any(axis=0)
            if not crossed.any():
                latch.z = z[:, -1].tolist()
                break
            i = int(np.argmax(crossed))
            latch.z = [min(c, v) for c, v in zip(caps, z[:, i].tolist(), strict=True)]
            slot, ratio = _pick(latch.z, shape.tops)
            latch.alarmed, latch.slot, latch.reverse = True, slot, 0
            result.events.append((pos + i, "alarm", slot, ratio))
            pos += i + 1
            continue
        result.alarmed = True
        back = np.cumsum(-seg[latch.slot])
        rev = back - np.minimum.accumulate(np.minimum(back, -latch.reverse))
        hit = rev >= shape.rtops[latch.slot]
        if not hit.any():
            latch.reverse = int(rev[-1])
            latch.z = _capped(latch.z, seg, caps)
            break
        i = int(np.argmax(hit))
        z_end = _capped(latch.z, seg[:, : i + 1], caps)
        result.events.append((pos + i, "recovered", latch.slot, shape.ratio(z_end)))
        latch.z = [0] * len(latch.z)
        latch.alarmed, latch.slot, latch.reverse = False, -1, 0
        pos += i + 1
    return result
