"""The simulator's Responses API and Azure deployments, against the real adapters and SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from openai.types.responses import Response

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet
from monitor.errors import ProviderHTTPError
from monitor.providers import azure_openai, openai_responses
from monitor.providers.http import build_client
from monitor.types import FinishReason, Message, ProbeRequest, Reply
from tests.providers.fakes import API_KEY, make_target
from tests.sim.conftest import CAPITAL, DNS, PROBES

REQUEST = ProbeRequest(messages=(Message("user", CAPITAL),), max_tokens=16, temperature=0.0)


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    backends = [
        SimBackend("openai", "default", "openai_responses"),
        SimBackend("azure", "swedencentral", "azure_openai_chat"),
    ]
    async with run_fleet(backends, AnswerBook.from_probe_dir(PROBES), api_key=API_KEY) as running:
        yield running


async def responses(fleet: SimFleet, request: ProbeRequest = REQUEST) -> Reply:
    target = make_target(api="openai_responses", base_url=fleet.base_url("openai", "default"))
    async with build_client(target) as client:
        return await openai_responses.SPEC.send(client, target, request, stream=False)


async def azure(fleet: SimFleet, key: str = API_KEY) -> Reply:
    target = make_target(
        api="azure_openai_chat",
        api_key=key,
        base_url=fleet.base_url("azure", "swedencentral"),
        model_id="gpt-4o-prod",
    )
    async with build_client(target) as client:
        return await azure_openai.SPEC.send(client, target, REQUEST, stream=False)


async def test_responses_round_trip(fleet: SimFleet) -> None:
    """The adapter's request is accepted and the reply is a real Response with logprobs."""
    reply = await responses(fleet, replace(REQUEST, top_logprobs=2))
    Response.model_validate_json(reply.raw_body)
    assert (reply.text, reply.finish_reason) == ("Paris", FinishReason.STOP)
    assert reply.logprobs is not None and "".join(t.token for t in reply.logprobs) == "Paris"


async def test_responses_length_stop(fleet: SimFleet) -> None:
    """A max_output_tokens stop is `incomplete`, which the adapter reads as a length stop."""
    reply = await responses(fleet, replace(REQUEST, messages=(Message("user", DNS),)))
    assert (reply.finish_reason, reply.raw_finish_reason) == (
        FinishReason.LENGTH,
        "max_output_tokens",
    )


async def test_azure_round_trip(fleet: SimFleet) -> None:
    """The deployment in the path is the model; the api-key header authenticates."""
    reply = await azure(fleet)
    assert (reply.text, reply.model) == ("Paris", "gpt-4o-prod")


async def test_azure_wrong_key(fleet: SimFleet) -> None:
    """A wrong api-key is Azure's 401, and the key is not echoed in the error."""
    with pytest.raises(ProviderHTTPError) as caught:
        await azure(fleet, key="wrong-key-123")
    assert caught.value.status_code == 401 and "wrong-key-123" not in str(caught.value)


async def test_azure_requires_api_version(fleet: SimFleet) -> None:
    """Without `api-version` the deployment route is not found, as on Azure."""
    url = fleet.base_url("azure", "swedencentral") + "openai/deployments/d/chat/completions"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json={"messages": []}, headers={"api-key": API_KEY})
    assert response.status_code == 404
