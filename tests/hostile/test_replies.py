"""Every hostile reply class through the real path: socket -> httpx -> provider -> runner -> store.

Each class gets its closed-set outcome and a stored, explained error; nothing raises into the
runner (an internal error would be counted), and the log line carries neither the reply nor a
raw control character.
"""

from __future__ import annotations

import io

import pytest

from monitor.errors import ProviderRateLimited
from monitor.providers import WIRE_SPECS
from monitor.providers.http import build_client
from tests.hostile.cases import CASES, Case
from tests.hostile.checks import assert_clean_log, run_case
from tests.hostile.conftest import SUITE, MakeRunner, hostile_target
from tests.hostile.server import HostileServer

PARAMS = [pytest.param(case, api, id=f"{case.name}-{api}") for case in CASES for api in case.apis]


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(("case", "api"), PARAMS)
async def test_hostile_reply(
    make_runner: MakeRunner, log_output: io.StringIO, case: Case, api: str
) -> None:
    """The reply class gets its outcome, stored evidence and metrics; logs stay clean."""
    async with HostileServer({case.name: case.script(api)}) as server:
        await run_case(make_runner(), case, api, server.url(case.name))
    assert server.hits(case.name) == case.requests  # no retry, no redirect followed
    assert "probe.finished" in log_output.getvalue()
    assert_clean_log(log_output.getvalue())


@pytest.mark.parametrize(
    "case", [c for c in CASES if "retry_after_s" in c.extra], ids=lambda c: c.name
)
async def test_retry_after_values(case: Case) -> None:
    """Retry-After is read as seconds or a date; absurd values give None, never inf or a crash."""
    async with HostileServer({case.name: case.script("openai_chat")}) as server:
        target = hostile_target("openai_chat", server.url(case.name))
        async with build_client(target) as client:
            with pytest.raises(ProviderRateLimited) as caught:
                await WIRE_SPECS["openai_chat"].send(
                    client, target, SUITE.request(SUITE.probes[0], "k"), stream=False
                )
    assert caught.value.retry_after_s == case.extra["retry_after_s"]
