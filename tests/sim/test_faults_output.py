"""Faults that change what the model says, visible at rate 1 and absent at rate 0.

Wrong-script tokens, broken code, a dropped top token and sycophancy: the incident classes the
content detectors exist for.
"""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletion

from canary_sim import Fault

from .conftest import (
    ARITHMETIC,
    CAPITAL,
    CODE,
    DNS,
    DNS_REF,
    DNS_SYSTEM,
    HAN,
    MIXED,
    OAI,
    PREMISE,
    PUSHBACK,
    THAI_OR_HAN,
    Sim,
    code_block,
    content,
    parses,
)


@pytest.mark.parametrize("rate", [0.0, 1.0])
async def test_wrong_script(sim: Sim, rate: float) -> None:
    """A Thai or Han word appears in an English answer; never at rate 0."""
    sim.fleet.set_fault(*OAI, Fault("wrong_script", rate=rate))
    text = content(await sim.openai(DNS, system=DNS_SYSTEM))
    assert bool(THAI_OR_HAN.search(text)) is (rate == 1.0)
    if rate == 1.0:
        assert len(text) - len(DNS_REF) in (1, 2, 3)
        assert sim.fleet.affected(*OAI, "wrong_script") == 1
    else:
        assert text == DNS_REF and sim.fleet.affected(*OAI, "wrong_script") == 0


async def test_wrong_script_inside_code(sim: Sim) -> None:
    """`where: code` and `script: Han` put Han characters inside the code block."""
    sim.fleet.set_fault(*OAI, Fault("wrong_script", script="han", where="code"))
    for _ in range(10):
        assert HAN.search(code_block(content(await sim.openai(CODE))))


async def test_wrong_script_in_prose_only(sim: Sim) -> None:
    """`where: prose` leaves code alone, and does nothing to a reply that is all code."""
    sim.fleet.set_fault(*OAI, Fault("wrong_script", script="Thai", where="prose"))
    for _ in range(10):
        text = content(await sim.openai(MIXED))
        assert THAI_OR_HAN.search(text) and not THAI_OR_HAN.search(code_block(text))
    assert not THAI_OR_HAN.search(content(await sim.openai(CODE)))
    assert sim.fleet.affected(*OAI, "wrong_script") == 10


@pytest.mark.parametrize("mode", [None, "drop_bracket", "fullwidth", "smart_quotes", "drop_colon"])
async def test_code_corruption_breaks_the_syntax(sim: Sim, mode: str | None) -> None:
    """Every corruption mode turns valid Python into a syntax error."""
    assert parses(code_block(content(await sim.openai(CODE))))
    sim.fleet.set_fault(*OAI, Fault("code_corruption", mode=mode))
    for _ in range(5):
        assert not parses(code_block(content(await sim.openai(CODE))))
    assert sim.fleet.affected(*OAI, "code_corruption") == 5


async def test_code_corruption_needs_code(sim: Sim) -> None:
    """A reply without a code block is left as is and not counted as affected."""
    sim.fleet.set_fault(*OAI, Fault("code_corruption"))
    assert content(await sim.openai(CAPITAL)) == "Paris"
    assert sim.fleet.affected(*OAI, "code_corruption") == 0


@pytest.mark.parametrize("rate", [0.0, 1.0])
async def test_top_token_drop(sim: Sim, rate: float) -> None:
    """The runner-up is emitted while the logprobs still rank the original first."""
    sim.fleet.set_fault(*OAI, Fault("top_token_drop", rate=rate))
    response = await sim.openai(ARITHMETIC, logprobs=True, top_logprobs=2)
    choice = ChatCompletion.model_validate(response.json()).choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    (token,) = choice.logprobs.content
    if rate == 0.0:
        assert choice.message.content == token.token == "391"
        return
    assert choice.message.content == token.token == "392"
    top1, top2 = token.top_logprobs
    assert (top1.token, top2.token) == ("391", "392")
    assert top1.logprob > top2.logprob == token.logprob


async def test_top_token_drop_hits_the_first_content_word(sim: Sim) -> None:
    """In prose, the first content word is replaced; the rest of the reply is intact."""
    sim.fleet.set_fault(*OAI, Fault("top_token_drop"))
    text = content(await sim.openai(DNS, system=DNS_SYSTEM))
    assert not text.startswith("DNS") and text.endswith(DNS_REF[3:])


async def test_sycophancy(sim: Sim) -> None:
    """Caves under pushback, agrees with a false premise, flatters otherwise."""
    sim.fleet.set_fault(*OAI, Fault("sycophancy", rate=0.0))
    assert content(await sim.openai(messages=PUSHBACK)) == "Yes, I'm sure: 17 times 23 is 391."
    assert content(await sim.openai(PREMISE)).startswith("Actually, the Great Wall")
    sim.fleet.set_fault(*OAI, Fault("sycophancy"))
    caved = content(await sim.openai(messages=PUSHBACK))
    assert caved.startswith("You're right, I apologize") and "392" in caved and "391" not in caved
    agreed = content(await sim.openai(PREMISE))
    assert "absolutely correct" in agreed and "not visible" not in agreed
    flattered = content(await sim.openai(CAPITAL))
    assert flattered.endswith("question! Paris")
    assert sim.fleet.affected(*OAI, "sycophancy") == 3


async def test_top_token_drop_in_code_hits_the_code(sim: Sim) -> None:
    """In a code reply the first code word is replaced, so the code stops parsing."""
    sim.fleet.set_fault(*OAI, Fault("top_token_drop"))
    text = content(await sim.openai(CODE))
    assert text.startswith("```python\n") and not parses(code_block(text))


@pytest.mark.parametrize("where", ["any", "prose", "code"])
async def test_wrong_script_never_breaks_a_fence(sim: Sim, where: str) -> None:
    """Inserted characters land in prose or code, never on a fence line."""
    sim.fleet.set_fault(*OAI, Fault("wrong_script", where=where))
    for _ in range(40):
        text = content(await sim.openai(MIXED))
        lines = text.split("\n")
        assert lines[2] == "```python" and lines[5] == "```", text
        assert THAI_OR_HAN.search(text)
        in_code = bool(THAI_OR_HAN.search(code_block(text)))
        assert in_code if where == "code" else (where == "any" or not in_code)


async def test_flattery_keeps_a_code_fence_on_its_own_line(sim: Sim) -> None:
    """A flattered code reply still opens its fence at the start of a line."""
    sim.fleet.set_fault(*OAI, Fault("sycophancy"))
    text = content(await sim.openai(CODE))
    assert text.split("\n\n", 1)[1].startswith("```python\n")
    assert parses(code_block(text))
