"""Fault records and the seeded draw, without HTTP."""

from __future__ import annotations

import math
from typing import Any

import pytest

from canary_sim import Fault
from canary_sim.faults import FaultTable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "meteor"}, "unknown fault kind"),
        ({"kind": "latency", "rate": 1.5}, "`rate` must be in"),
        ({"kind": "latency", "rate": -0.1}, "`rate` must be in"),
        ({"kind": "latency", "script": "Thai"}, "`script` does not apply to a latency fault"),
        ({"kind": "wrong_script", "sticky": True}, "`sticky` does not apply"),
        ({"kind": "wrong_script", "script": "Klingon"}, "`script` must be one of"),
        ({"kind": "code_corruption", "mode": "truncated"}, "`mode` of a code_corruption"),
        ({"kind": "malformed", "mode": "fullwidth"}, "`mode` of a malformed"),
        ({"kind": "latency", "delay_s": -1}, "`delay_s` must be >= 0"),
        ({"kind": "http_error", "status": 200}, "`status` must be an HTTP error"),
    ],
)
def test_invalid_faults_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    """A fault that cannot mean anything fails when it is made, with the field named."""
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rate": 0.5}, "`kind` must be one of"),
        ({"kind": "latency", "delay": 1}, "unknown field"),
        ({"kind": "latency", "rate": "high"}, "`rate` has the wrong type"),
        ({"kind": "latency", "rate": True}, "`rate` has the wrong type"),
        ({"kind": "misroute", "sticky": "yes"}, "`sticky` has the wrong type"),
        ({"kind": "http_error", "status": 42.0}, "`status` has the wrong type"),
    ],
)
def test_control_api_json_is_checked(data: dict[str, Any], message: str) -> None:
    """Control-API objects get the same checks plus unknown-key and type errors."""
    with pytest.raises(ValueError, match=message):
        Fault.from_json(data)


def test_json_round_trip_lists_the_kind_parameters() -> None:
    """`to_json` shows every parameter of the kind, and only those."""
    fault = Fault.from_json({"kind": "misroute", "rate": 0.16, "sticky": True})
    assert fault.to_json() == {
        "kind": "misroute",
        "rate": 0.16,
        "sticky": True,
        "degrade": "truncate",
    }
    assert Fault.from_json(fault.to_json()) == fault
    assert Fault("wrong_script", script="THAI").script == "Thai"


def _hits(seed: int, rate: float, n: int) -> list[bool]:
    table = FaultTable(seed)
    table.set("p", "q", Fault("latency", rate=rate))
    return ["latency" in table.plan("p", "q", "").active for _ in range(n)]


def test_draws_are_reproducible_per_seed() -> None:
    """The same seed hits the same requests; another seed hits others."""
    assert _hits(7, 0.3, 200) == _hits(7, 0.3, 200)
    assert _hits(7, 0.3, 200) != _hits(8, 0.3, 200)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_rate_is_the_share_of_requests_hit(rate: float) -> None:
    """Over 10,000 seeded draws the hit share is within 5 standard errors of `rate`."""
    n = 10_000
    share = sum(_hits(0, rate, n)) / n
    assert abs(share - rate) < 5 * math.sqrt(rate * (1 - rate) / n)


def test_sticky_draw_depends_on_the_key_only() -> None:
    """A sticky fault decides by the affinity key, whatever the RNG state."""
    table = FaultTable(0)
    table.set("p", "q", Fault("misroute", rate=0.5, sticky=True))
    first = {k: "misroute" in table.plan("p", "q", k).active for k in map(str, range(50))}
    again = {k: "misroute" in table.plan("p", "q", k).active for k in map(str, range(50))}
    assert first == again and 10 < sum(first.values()) < 40


def test_clear_filters() -> None:
    """Clearing by platform, pool or kind removes exactly the matching faults."""
    table = FaultTable(0)
    for plat, pool in [("a", "x"), ("a", "y"), ("b", "x")]:
        table.set(plat, pool, Fault("latency"))
        table.set(plat, pool, Fault("sycophancy"))
    assert table.clear(kind="latency", platform="a") == 2
    assert table.clear(pool="x") == 3
    assert [(f["platform"], f["pool"], f["kind"]) for f in table.listing()] == [
        ("a", "y", "sycophancy")
    ]
    assert table.clear() == 1 and table.listing() == []
