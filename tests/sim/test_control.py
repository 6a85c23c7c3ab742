"""The HTTP control API under /_sim/, and the Python API it mirrors."""

from __future__ import annotations

import pytest

from canary_sim import Fault

from .conftest import ANT, CAPITAL, OAI, Sim


async def test_healthz(sim: Sim) -> None:
    """`GET /healthz` answers 200 so callers can wait for the fleet."""
    response = await sim.control("GET", "/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_fault_round_trip(sim: Sim) -> None:
    """Set over HTTP, see it listed, watch it hit, read the stats, clear it."""
    body = {
        "platform": "vllm-prod",
        "pool": "default",
        "kind": "wrong_script",
        "rate": 1.0,
        "script": "Thai",
    }
    created = await sim.control("POST", "/_sim/faults", json=body)
    assert created.status_code == 200
    assert created.json() == {**body, "where": "any"}
    listed = (await sim.control("GET", "/_sim/faults")).json()["faults"]
    assert listed == [{**body, "where": "any"}]

    for _ in range(3):
        assert (await sim.openai(CAPITAL)).status_code == 200
    await sim.anthropic(CAPITAL)
    stats = (await sim.control("GET", "/_sim/stats")).json()
    assert stats["seed"] == 1234
    by_pool = {(s["platform"], s["pool"]): s for s in stats["stats"]}
    assert by_pool[OAI] == {
        "platform": "vllm-prod",
        "pool": "default",
        "requests": 3,
        "affected": {"wrong_script": 3},
    }
    assert by_pool[ANT]["requests"] == 1 and by_pool[ANT]["affected"] == {}

    cleared = await sim.control("DELETE", "/_sim/faults", params={"platform": "vllm-prod"})
    assert cleared.json() == {"cleared": 1}
    assert (await sim.control("GET", "/_sim/faults")).json() == {"faults": []}
    assert (await sim.openai(CAPITAL)).json()["choices"][0]["message"]["content"] == "Paris"

    assert (await sim.control("DELETE", "/_sim/stats")).json() == {"reset": True}
    assert (await sim.control("GET", "/_sim/stats")).json()["stats"] == []


async def test_posting_the_same_kind_replaces_it(sim: Sim) -> None:
    """One fault per kind and pool: a second POST changes the rate instead of stacking."""
    for rate in (0.2, 0.4):
        body = {"platform": "vllm-prod", "pool": "default", "kind": "latency", "rate": rate}
        await sim.control("POST", "/_sim/faults", json=body)
    assert [f["rate"] for f in sim.fleet.list_faults()] == [0.4]


async def test_delete_by_kind_and_pool(sim: Sim) -> None:
    """DELETE filters combine: only the matching faults go."""
    sim.fleet.set_fault(*OAI, Fault("latency", delay_s=0))
    sim.fleet.set_fault(*OAI, Fault("sycophancy"))
    sim.fleet.set_fault(*ANT, Fault("sycophancy"))
    response = await sim.control(
        "DELETE", "/_sim/faults", params={"pool": "default", "kind": "sycophancy"}
    )
    assert response.json() == {"cleared": 2}
    assert [f["kind"] for f in sim.fleet.list_faults()] == ["latency"]
    assert sim.fleet.clear_faults() == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{", 400, "invalid JSON"),
        (b"[]", 400, "expected a JSON object"),
        (b'{"kind": "latency"}', 400, "`platform` and `pool` are required"),
        (b'{"platform": "x", "pool": "y", "kind": "latency"}', 404, "no backend x/y"),
        (b'{"platform": "vllm-prod", "pool": "default", "kind": "meteor"}', 400, "`kind`"),
        (
            b'{"platform": "vllm-prod", "pool": "default", "kind": "latency", "rate": 2}',
            400,
            "`rate`",
        ),
        (
            b'{"platform": "vllm-prod", "pool": "default", "kind": "latency", "script": "Thai"}',
            400,
            "unknown field",
        ),
    ],
)
async def test_bad_fault_requests(sim: Sim, body: bytes, status: int, message: str) -> None:
    """Bad control requests say what is wrong and change nothing."""
    response = await sim.control("POST", "/_sim/faults", content=body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert sim.fleet.list_faults() == []


async def test_backends_listing(sim: Sim) -> None:
    """`GET /_sim/backends` gives every pool's API and base URL."""
    backends = (await sim.control("GET", "/_sim/backends")).json()["backends"]
    assert {(b["platform"], b["pool"], b["api"]) for b in backends} >= {
        ("vllm-prod", "default", "openai_chat"),
        ("anthropic-api", "default", "anthropic_messages"),
    }
    assert all(b["base_url"].endswith(f"/{b['platform']}/{b['pool']}/") for b in backends)


async def test_python_api_rejects_unknown_pools(sim: Sim) -> None:
    """Setting a fault or asking a URL for a pool that does not exist is an error."""
    with pytest.raises(KeyError):
        sim.fleet.set_fault("nowhere", "default", Fault("latency"))
    with pytest.raises(KeyError):
        sim.fleet.base_url("nowhere", "default")
    assert sim.fleet.base_url(*OAI) == f"http://127.0.0.1:{sim.fleet.port}/vllm-prod/default/"
