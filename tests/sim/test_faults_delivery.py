"""Faults in routing and transport: misroute, latency, HTTP errors, malformed bodies.

Also how faults combine on one pool and that `rate` is the share of requests they hit.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from anthropic.types import ErrorResponse, Message
from openai.types import ErrorObject
from openai.types.chat import ChatCompletion

from canary_sim import Fault, fingerprint
from canary_sim.corrupt import NON_ANSWER

from .conftest import (
    ANT,
    CAPITAL,
    DNS,
    DNS_REF,
    DNS_SYSTEM,
    HAN,
    OAI,
    THAI_OR_HAN,
    Sim,
    content,
)


@pytest.mark.parametrize("rate", [0.0, 1.0])
async def test_misroute_changes_backend_and_degrades(sim: Sim, rate: float) -> None:
    """A misrouted reply comes from another fingerprint, halved with finish `length`."""
    sim.fleet.set_fault(*OAI, Fault("misroute", rate=rate))
    response = await sim.openai(DNS, system=DNS_SYSTEM)
    parsed = ChatCompletion.model_validate(response.json())
    healthy = fingerprint(*OAI)
    assert (parsed.system_fingerprint == healthy) is (rate == 0.0)
    assert response.headers["X-Served-By"] == parsed.system_fingerprint
    text = parsed.choices[0].message.content
    assert text is not None
    if rate == 1.0:
        assert parsed.choices[0].finish_reason == "length"
        assert DNS_REF.startswith(text) and len(text) < len(DNS_REF) * 0.7
        assert parsed.system_fingerprint == fingerprint(*OAI, degraded=True)
    else:
        assert text == DNS_REF


async def test_misroute_of_short_answers_and_non_answer_mode(sim: Sim) -> None:
    """Short answers, and `degrade: non_answer`, become a generic non-answer."""
    sim.fleet.set_fault(*OAI, Fault("misroute"))
    assert content(await sim.openai(CAPITAL)) == NON_ANSWER
    sim.fleet.set_fault(*OAI, Fault("misroute", degrade="non_answer"))
    assert content(await sim.openai(DNS, system=DNS_SYSTEM)) == NON_ANSWER


async def test_sticky_misroute_follows_the_affinity_key(sim: Sim) -> None:
    """With `sticky`, a key always lands on the same backend; without, it does not."""
    sim.fleet.set_fault(*OAI, Fault("misroute", rate=0.5, sticky=True))
    landed: dict[str, set[str | None]] = {}
    for key in [f"user-{i}" for i in range(30)]:
        for _ in range(4):
            parsed = ChatCompletion.model_validate((await sim.openai(CAPITAL, affinity=key)).json())
            landed.setdefault(key, set()).add(parsed.system_fingerprint)
    assert all(len(fps) == 1 for fps in landed.values())
    assert len(set().union(*landed.values())) == 2  # some keys are misrouted, some are not
    sim.fleet.set_fault(*OAI, Fault("misroute", rate=0.5))
    fps = set()
    for _ in range(30):
        parsed = ChatCompletion.model_validate((await sim.openai(CAPITAL, affinity="k")).json())
        fps.add(parsed.system_fingerprint)
    assert len(fps) == 2


@pytest.mark.parametrize("rate", [0.0, 1.0])
async def test_latency(sim: Sim, rate: float) -> None:
    """The reply is held back at least `delay_s`, and only when the fault hits."""
    sim.fleet.set_fault(*OAI, Fault("latency", rate=rate, delay_s=0.05))
    started = time.monotonic()
    assert content(await sim.openai(CAPITAL)) == "Paris"
    if rate == 1.0:
        assert time.monotonic() - started >= 0.05
    assert sim.fleet.affected(*OAI, "latency") == int(rate)


@pytest.mark.parametrize(
    ("status", "openai_type", "anthropic_type"),
    [
        (500, "server_error", "api_error"),
        (429, "requests", "rate_limit_error"),
        (529, "server_error", "overloaded_error"),
        (403, "invalid_request_error", "permission_error"),
    ],
)
async def test_http_error_in_both_shapes(
    sim: Sim, status: int, openai_type: str, anthropic_type: str
) -> None:
    """The injected status comes with each vendor's error body; a 429 adds Retry-After."""
    sim.fleet.set_fault(*OAI, Fault("http_error", status=status))
    sim.fleet.set_fault(*ANT, Fault("http_error", status=status))
    oai, ant = await sim.openai(CAPITAL), await sim.anthropic(CAPITAL)
    assert oai.status_code == ant.status_code == status
    assert ErrorObject.model_validate(oai.json()["error"]).type == openai_type
    assert ErrorResponse.model_validate(ant.json()).error.type == anthropic_type
    assert ("Retry-After" in oai.headers) is (status == 429)
    if status == 429:
        assert oai.headers["Retry-After"] == ant.headers["Retry-After"] == "1"


async def test_http_error_absent_at_rate_zero(sim: Sim) -> None:
    """At rate 0 every request succeeds."""
    sim.fleet.set_fault(*OAI, Fault("http_error", rate=0.0))
    for _ in range(10):
        assert (await sim.openai(CAPITAL)).status_code == 200


@pytest.mark.parametrize("pool", [OAI, ANT])
async def test_malformed_bodies(sim: Sim, pool: tuple[str, str]) -> None:
    """A 200 whose body is cut off, or valid JSON without `choices` / `content`."""
    post = sim.openai if pool == OAI else sim.anthropic
    sim.fleet.set_fault(*pool, Fault("malformed", mode="truncated"))
    cut = await post(CAPITAL)
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)
    sim.fleet.set_fault(*pool, Fault("malformed", mode="wrong_shape"))
    shape = (await post(CAPITAL)).json()
    assert "id" in shape and "choices" not in shape and "content" not in shape
    sim.fleet.set_fault(*pool, Fault("malformed", rate=0.0))
    assert (await post(CAPITAL)).json()["id"]


async def test_faults_on_anthropic_pools(sim: Sim) -> None:
    """Content faults behave the same whichever API the pool speaks."""
    sim.fleet.set_fault(*ANT, Fault("wrong_script", script="Thai"))
    sim.fleet.set_fault(*ANT, Fault("misroute", degrade="non_answer"))
    response = await sim.anthropic(CAPITAL)
    parsed = Message.model_validate(response.json())
    assert parsed.content[0].type == "text"
    assert THAI_OR_HAN.search(parsed.content[0].text)
    assert response.headers["X-Served-By"] == fingerprint(*ANT, degraded=True)


async def test_several_faults_at_once(sim: Sim) -> None:
    """Faults of different kinds combine on one pool, and each is counted."""
    for fault in (
        Fault("wrong_script", script="Han"),
        Fault("top_token_drop"),
        Fault("sycophancy"),
        Fault("latency", delay_s=0),
    ):
        sim.fleet.set_fault(*OAI, fault)
    text = content(await sim.openai(DNS, system=DNS_SYSTEM))
    assert HAN.search(text) and "question! DNS translates" in text
    assert not text.startswith(("Great", "What", "Excellent"))  # the dropped top token
    stats = sim.fleet.stats()
    (entry,) = [s for s in stats if (s["platform"], s["pool"]) == OAI]
    assert entry["affected"] == {
        "latency": 1,
        "sycophancy": 1,
        "top_token_drop": 1,
        "wrong_script": 1,
    }


async def test_rate_is_respected(sim: Sim) -> None:
    """At rate 0.1, between 5% and 15% of 1000 requests are hit (seeded: never flaky)."""
    sim.fleet.set_fault(*OAI, Fault("wrong_script", rate=0.1))
    for _ in range(20):
        replies = await asyncio.gather(*(sim.openai(CAPITAL) for _ in range(50)))
        assert all(r.status_code == 200 for r in replies)
    hit = sim.fleet.affected(*OAI, "wrong_script")
    assert 50 <= hit <= 150
    (entry,) = [s for s in sim.fleet.stats() if (s["platform"], s["pool"]) == OAI]
    assert entry["requests"] == 1000
