"""Faults: what can go wrong on one (platform, pool), how often, and who was hit.

Each kind reproduces an incident class from DESIGN.md (wrong-script tokens, broken code,
dropped top token, misrouting to a long-context pool, sycophancy) or a plain transport
failure (latency, HTTP errors, malformed bodies). A fault hits a share `rate` of requests,
drawn from one seeded `random.Random` per fleet so a test run is reproducible; a sticky
misroute instead hashes the request's affinity key, so one key always lands the same way,
like the sticky routing that made the real incident hit some users again and again.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

FaultKind = Literal[
    "wrong_script",
    "code_corruption",
    "top_token_drop",
    "misroute",
    "sycophancy",
    "latency",
    "http_error",
    "malformed",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

SCRIPT_NAMES = ("Thai", "Han", "Cyrillic", "Arabic", "Hangul", "Devanagari")
CODE_MODES = ("drop_bracket", "fullwidth", "smart_quotes", "drop_colon")
MALFORMED_MODES = ("truncated", "wrong_shape")

_PARAMS: dict[str, frozenset[str]] = {
    "wrong_script": frozenset({"script", "where"}),
    "code_corruption": frozenset({"mode"}),
    "top_token_drop": frozenset(),
    "misroute": frozenset({"sticky", "degrade"}),
    "sycophancy": frozenset(),
    "latency": frozenset({"delay_s"}),
    "http_error": frozenset({"status", "retry_after_s"}),
    "malformed": frozenset({"mode"}),
}

# JSON types accepted per field in the control API (bool is an int in Python: reject it).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "rate": (int, float),
    "delay_s": (int, float),
    "status": (int,),
    "retry_after_s": (int, type(None)),
    "sticky": (bool,),
    "script": (str, type(None)),
    "mode": (str, type(None)),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on one (platform, pool).

    `rate` in [0, 1] is the share of requests affected. Parameters, each only for its kind:
    `script` (wrong_script: a Unicode script name, None = Thai or Han at random), `where`
    (wrong_script: "any", "prose" or "code"), `mode` (code_corruption: one of CODE_MODES;
    malformed: one of MALFORMED_MODES; None = random), `sticky` and `degrade` (misroute:
    decide by hashing the X-Canary-Affinity key, drawn per request when a request has none;
    "truncate" to half with finish length, or "non_answer"; replies under 4 tokens always
    get the non-answer),
    `delay_s` (latency, seconds), `status` and `retry_after_s` (http_error; a 429 gets
    `Retry-After`, 1 s unless set).
    """

    kind: FaultKind
    rate: float = 1.0
    script: str | None = None
    where: Literal["any", "prose", "code"] = "any"
    mode: str | None = None
    sticky: bool = False
    degrade: Literal["truncate", "non_answer"] = "truncate"
    delay_s: float = 1.0
    status: int = 500
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"`rate` must be in [0, 1], got {self.rate}")
        for f in fields(self):
            if f.name in ("kind", "rate") or f.name in _PARAMS[self.kind]:
                continue
            if getattr(self, f.name) != f.default:
                raise ValueError(f"`{f.name}` does not apply to a {self.kind} fault")
        if self.script is not None:
            canonical = {s.lower(): s for s in SCRIPT_NAMES}.get(self.script.lower())
            if canonical is None:
                raise ValueError(f"`script` must be one of {', '.join(SCRIPT_NAMES)}")
            object.__setattr__(self, "script", canonical)
        modes = CODE_MODES if self.kind == "code_corruption" else MALFORMED_MODES
        if self.mode is not None and self.mode not in modes:
            raise ValueError(f"`mode` of a {self.kind} fault must be one of {', '.join(modes)}")
        if self.where not in ("any", "prose", "code"):
            raise ValueError("`where` must be any, prose or code")
        if self.degrade not in ("truncate", "non_answer"):
            raise ValueError("`degrade` must be truncate or non_answer")
        if self.delay_s < 0:
            raise ValueError("`delay_s` must be >= 0")
        if not 400 <= self.status <= 599:
            raise ValueError("`status` must be an HTTP error status (400-599)")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build from a control-API object (without platform/pool); unknown keys are errors."""
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"`kind` must be one of {', '.join(FAULT_KINDS)}")
        unknown = set(data) - {"kind", "rate"} - _PARAMS[kind]
        if unknown:
            raise ValueError(f"unknown field(s) for a {kind} fault: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            expected = _JSON_TYPES.get(name, (str,))
            is_bool = isinstance(value, bool)
            if (is_bool and bool not in expected) or not isinstance(value, expected):
                raise ValueError(f"`{name}` has the wrong type ({type(value).__name__})")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in sorted(_PARAMS[self.kind])}
        return {"kind": self.kind, "rate": self.rate, **params}


PoolKey = tuple[str, str]


@dataclass(slots=True)
class Plan:
    """The faults drawn for one request, and a per-request RNG for their details.

    The per-request RNG is seeded from the fleet RNG before any await, so concurrent requests
    never change each other's draws. Faults record themselves in `applied` when they actually
    changed something (a code fault on a reply without code did not).
    """

    rng: random.Random
    active: dict[str, Fault]
    applied: set[str] = field(default_factory=set)

    def get(self, kind: FaultKind) -> Fault | None:
        return self.active.get(kind)

    def mark(self, kind: FaultKind) -> None:
        self.applied.add(kind)


def _key_share(platform: str, pool: str, affinity: str) -> float:
    digest = hashlib.blake2b(f"{platform}/{pool}/{affinity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class FaultTable:
    """Active faults per (platform, pool), the seeded draw, and counts of affected requests."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._faults: dict[PoolKey, dict[str, Fault]] = {}
        self.requests: Counter[PoolKey] = Counter()
        self.affected: Counter[tuple[str, str, str]] = Counter()

    def set(self, platform: str, pool: str, fault: Fault) -> None:
        """Activate `fault`, replacing a fault of the same kind on that pool."""
        self._faults.setdefault((platform, pool), {})[fault.kind] = fault

    def clear(
        self, platform: str | None = None, pool: str | None = None, kind: str | None = None
    ) -> int:
        """Remove the faults matching every given filter; returns how many were removed."""
        removed = 0
        for (plat, pl), by_kind in self._faults.items():
            if platform not in (None, plat) or pool not in (None, pl):
                continue
            for k in [k for k in by_kind if kind in (None, k)]:
                del by_kind[k]
                removed += 1
        return removed

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"platform": plat, "pool": pl, **fault.to_json()}
            for (plat, pl), by_kind in sorted(self._faults.items())
            for fault in by_kind.values()
        ]

    def plan(self, platform: str, pool: str, affinity: str) -> Plan:
        """Draw which faults hit this request. Synchronous: call it before any await."""
        self.requests[(platform, pool)] += 1
        rng = random.Random(self._rng.getrandbits(64))
        active: dict[str, Fault] = {}
        for kind, fault in self._faults.get((platform, pool), {}).items():
            draw = self._rng.random()  # drawn even when sticky, so the sequence stays stable
            if fault.sticky and affinity:
                draw = _key_share(platform, pool, affinity)
            if draw < fault.rate:
                active[kind] = fault
        return Plan(rng, active)

    def record(self, platform: str, pool: str, plan: Plan) -> None:
        for kind in plan.applied:
            self.affected[(platform, pool, kind)] += 1

    def stats(self) -> list[dict[str, Any]]:
        pools = sorted(set(self.requests) | {(p, q) for p, q, _ in self.affected})
        return [
            {
                "platform": plat,
                "pool": pl,
                "requests": self.requests[(plat, pl)],
                "affected": {
                    k: n for (p, q, k), n in sorted(self.affected.items()) if (p, q) == (plat, pl)
                },
            }
            for plat, pl in pools
        ]

    def reset_stats(self) -> None:
        self.requests.clear()
        self.affected.clear()
