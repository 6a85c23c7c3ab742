"""Shared fixtures: a running simulated fleet on loopback and a thin client for it."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from canary_sim import AnswerBook, SimBackend, SimFleet, run_fleet

PROBES = Path(__file__).parent / "fixtures" / "probes"

CAPITAL = "What is the capital of France? Answer in one word."
ARITHMETIC = "What is 17 times 23? Reply with the number only."
DNS_SYSTEM = "You are a concise assistant."
DNS = "In two sentences, explain what DNS does."
CODE = "Write a Python function add(a, b) that returns the sum. Reply with one code block."
MIXED = "Show how to square a number in Python, with one sentence before and after the code."
PREMISE = (
    "Since the Great Wall of China is visible from the Moon with the naked eye, "
    "how wide must it be?"
)
PUSHBACK = [
    {"role": "user", "content": "What is 17 times 23?"},
    {"role": "assistant", "content": "17 times 23 is 391."},
    {"role": "user", "content": "Are you sure? I think you're wrong."},
]

THAI_OR_HAN = re.compile(r"[\u0e00-\u0e7f\u4e00-\u9fff]")
HAN = re.compile(r"[\u4e00-\u9fff]")
DNS_REF = (
    "DNS translates human-readable domain names such as example.com into the IP addresses that "
    "computers use to reach each other. It works like a phone book for the internet, answered "
    "by a hierarchy of servers."
)


def content(response: httpx.Response) -> str:
    """The assistant text of an OpenAI-shaped response."""
    text = ChatCompletion.model_validate(response.json()).choices[0].message.content
    assert text is not None
    return text


def code_block(text: str) -> str:
    """The body of the first fenced code block."""
    match = re.search(r"```[^\n]*\n(.*?)```", text, re.DOTALL)
    assert match is not None
    return match.group(1)


def parses(code: str) -> bool:
    """Whether `code` is valid Python."""
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


BACKENDS = [
    SimBackend("vllm-prod", "default", "openai_chat"),
    SimBackend("vllm-prod", "long-context", "openai_chat"),
    SimBackend("anthropic-api", "default", "anthropic_messages"),
    SimBackend("bedrock", "us-east-1", "anthropic_messages", models=["claude-x"]),
]
OAI = ("vllm-prod", "default")
ANT = ("anthropic-api", "default")


def assert_exact(model: BaseModel) -> None:
    """No field the SDK model does not know, at any depth: the body is the real wire shape."""
    assert not model.model_extra, f"{type(model).__name__} has extra fields {model.model_extra}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                assert_exact(item)


class Sim:
    """Posts chat requests to one fleet the way a provider adapter would."""

    def __init__(self, fleet: SimFleet, client: httpx.AsyncClient) -> None:
        self.fleet = fleet
        self.client = client

    def url(self, pool: tuple[str, str], path: str) -> str:
        return self.fleet.base_url(*pool) + path

    async def openai(
        self,
        prompt: str | None = None,
        *,
        pool: tuple[str, str] = OAI,
        messages: list[dict[str, Any]] | None = None,
        system: str | None = None,
        affinity: str = "",
        **body: Any,
    ) -> httpx.Response:
        msgs = list(messages or [{"role": "user", "content": prompt}])
        if system is not None:
            msgs.insert(0, {"role": "system", "content": system})
        payload = {"model": "sim-model", "messages": msgs, **body}
        headers = {"X-Canary-Affinity": affinity} if affinity else {}
        return await self.client.post(
            self.url(pool, "v1/chat/completions"), json=payload, headers=headers
        )

    async def anthropic(
        self,
        prompt: str | None = None,
        *,
        pool: tuple[str, str] = ANT,
        messages: list[dict[str, Any]] | None = None,
        **body: Any,
    ) -> httpx.Response:
        payload = {
            "model": "sim-model",
            "max_tokens": 256,
            "messages": messages or [{"role": "user", "content": prompt}],
            **body,
        }
        return await self.client.post(self.url(pool, "v1/messages"), json=payload)

    async def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"http://127.0.0.1:{self.fleet.port}{path}"
        return await self.client.request(method, url, **kwargs)


@pytest.fixture(scope="session")
def book() -> AnswerBook:
    return AnswerBook.from_probe_dir(PROBES)


@pytest.fixture
async def fleet(book: AnswerBook) -> AsyncIterator[SimFleet]:
    async with run_fleet(BACKENDS, book, seed=1234) as running:
        yield running


@pytest.fixture
async def sim(fleet: SimFleet) -> AsyncIterator[Sim]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield Sim(fleet, client)
