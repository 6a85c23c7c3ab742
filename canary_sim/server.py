"""The simulated fleet: one aiohttp server on loopback serving every (platform, pool).

A target's base URL is `http://HOST:PORT/<platform>/<pool>/`; each pool speaks one wire API
at its vendor's path (`wires.ROUTES`: OpenAI, Anthropic, Bedrock, Vertex, Responses, Azure)
and checks authentication the way that platform does (`cloud.authenticate`). The daemon
cannot tell it from a real endpoint: the point is to test the whole path (HTTP, parsing,
detectors, drift, alerts) against faults we inject and therefore know the truth about.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from canary_sim import cloud, control, streaming, transport
from canary_sim.answers import AnswerBook
from canary_sim.aws_sigv4 import SigV4Verifier
from canary_sim.faults import MALFORMED_MODES, Fault, FaultTable, Plan
from canary_sim.generate import generate
from canary_sim.google_oauth import OAuthIssuer
from canary_sim.records import Api, ChatRequest, Generation, SimError, WireFormat
from canary_sim.wires import ROUTES, STREAM_ROUTES, WIRES

AFFINITY_HEADER = "X-Canary-Affinity"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class SimBackend:
    """One (platform, pool) and the API it speaks; empty `models` accepts any model name."""

    platform: str
    pool: str
    api: Api
    models: Sequence[str] = ()
    region: str = ""  # bedrock: the SigV4 scope region; empty means the pool name

    @classmethod
    def parse(cls, spec: str) -> SimBackend:
        """`platform/pool/api[/model,model...]`, the CLI's `--backend` form."""
        parts = spec.split("/")
        if len(parts) not in (3, 4) or parts[2] not in WIRES or not all(parts[:2]):
            raise ValueError(f"expected platform/pool/{{{'|'.join(WIRES)}}}[/models], got {spec!r}")
        models = tuple(m for m in parts[3].split(",") if m) if len(parts) == 4 else ()
        return cls(parts[0], parts[1], WIRES[parts[2]].api, models)


class SimFleet:
    """State of the simulated fleet (backends, answers, faults) and its HTTP server."""

    def __init__(
        self,
        backends: Iterable[SimBackend],
        answer_book: AnswerBook | None = None,
        *,
        seed: int = 0,
        api_key: str | None = None,
        aws: SigV4Verifier | None = None,
        oauth: OAuthIssuer | None = None,
    ) -> None:
        self.backends = {(b.platform, b.pool): b for b in backends}
        self.book = answer_book if answer_book is not None else AnswerBook()
        self.faults = FaultTable(seed)
        self.seed = seed
        self.api_key = api_key
        self.aws, self.oauth = aws, oauth
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    # Python control API -------------------------------------------------------------------

    def set_fault(self, platform: str, pool: str, fault: Fault) -> None:
        """Activate `fault` on a pool, replacing a fault of the same kind there."""
        if (platform, pool) not in self.backends:
            raise KeyError(f"no backend {platform}/{pool}")
        self.faults.set(platform, pool, fault)

    def clear_faults(
        self, platform: str | None = None, pool: str | None = None, kind: str | None = None
    ) -> int:
        """Remove matching faults (all of them with no argument); returns how many."""
        return self.faults.clear(platform, pool, kind)

    def list_faults(self) -> list[dict[str, Any]]:
        return self.faults.listing()

    def stats(self) -> list[dict[str, Any]]:
        """Per (platform, pool): requests served and requests each fault kind affected."""
        return self.faults.stats()

    def affected(self, platform: str, pool: str, kind: str) -> int:
        return self.faults.affected[(platform, pool, kind)]

    def reset_stats(self) -> None:
        self.faults.reset_stats()

    def base_url(self, platform: str, pool: str) -> str:
        if (platform, pool) not in self.backends:
            raise KeyError(f"no backend {platform}/{pool}")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/{platform}/{pool}/"

    # HTTP ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        for wire, path in ROUTES:
            app.router.add_post(f"/{{platform}}/{{pool}}/{path}", self._handler(wire))
        for wire, path in STREAM_ROUTES:
            app.router.add_post(f"/{{platform}}/{{pool}}/{path}", self._handler(wire, stream=True))
        app.router.add_routes(control.routes(self))
        app.router.add_routes(cloud.routes(self))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (0 picks a free port, then `self.port` tells which)."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.host, self.port = host, int(runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        del request
        return web.json_response({"status": "ok"})

    def _handler(self, wire: WireFormat, *, stream: bool = False) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, wire, stream=stream)

        return handle

    def _error(self, wire: WireFormat, error: SimError, request_id: str) -> web.Response:
        extra = wire.error_headers(error) if wire.error_headers is not None else {}
        headers = {wire.request_id_header: request_id, **extra, **error.headers}
        body = wire.render_error(error, request_id)
        return web.json_response(body, status=error.status, headers=headers)

    async def _serve(
        self, request: web.Request, wire: WireFormat, *, stream: bool = False
    ) -> web.StreamResponse:
        request_id = "req_" + uuid.uuid4().hex[:24]
        platform, pool = request.match_info["platform"], request.match_info["pool"]
        backend = self.backends.get((platform, pool))
        try:
            if backend is None or backend.api != wire.api:
                raise SimError(404, "not_found", f"Unknown platform/pool {platform}/{pool}.")
            raw = await request.read()
            cloud.authenticate(self, request, wire, backend, raw)
            chat = wire.parse(transport.parse_json(raw))
            if "model" in request.match_info:
                chat = replace(chat, model=request.match_info["model"])
            if stream:
                if wire.api == "vertex_gemini" and request.query.get("alt") != "sse":
                    raise SimError(400, "invalid_request", "The simulator streams alt=sse only.")
                chat = replace(chat, stream=True)
            if backend.models and chat.model not in backend.models:
                raise SimError(
                    404,
                    "not_found",
                    f"The model `{chat.model}` does not exist.",
                    param="model",
                    code="model_not_found",
                )
        except SimError as error:
            return self._error(wire, error, request_id)
        plan = self.faults.plan(platform, pool, request.headers.get(AFFINITY_HEADER, ""))
        try:
            return await self._answer(
                request, wire, chat, plan, platform=platform, pool=pool, request_id=request_id
            )
        finally:
            self.faults.record(platform, pool, plan)

    async def _answer(
        self,
        request: web.Request,
        wire: WireFormat,
        chat: ChatRequest,
        plan: Plan,
        *,
        platform: str,
        pool: str,
        request_id: str,
    ) -> web.StreamResponse:
        if (fault := plan.get("latency")) is not None:
            plan.mark("latency")
            await asyncio.sleep(fault.delay_s)
        if (fault := plan.get("http_error")) is not None:
            plan.mark("http_error")
            return self._error(wire, transport.injected_error(fault), request_id)
        gen = generate(self.book, chat, platform, pool, plan)
        headers = {wire.request_id_header: request_id, "X-Served-By": gen.fingerprint}
        if chat.stream:
            return await self._stream(
                request, wire=wire, chat=chat, gen=gen, plan=plan, headers=headers
            )
        body = wire.render(chat, gen, wire.new_id())
        if (fault := plan.get("malformed")) is not None:
            plan.mark("malformed")
            text = transport.malformed_body(body, fault, wire, plan.rng)
        else:
            text = json.dumps(body, ensure_ascii=False)
        return web.Response(text=text, content_type="application/json", headers=headers)

    async def _stream(
        self,
        request: web.Request,
        *,
        wire: WireFormat,
        chat: ChatRequest,
        gen: Generation,
        plan: Plan,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        """Write the reply chunk by chunk (a `malformed` fault cuts the stream short)."""
        render, content_type = streaming.RENDERERS[wire.api]
        chunks = render(chat, gen, wire.new_id())
        if (fault := plan.get("malformed")) is not None:
            plan.mark("malformed")
            chunks = streaming.malformed(chunks, fault.mode or plan.rng.choice(MALFORMED_MODES))
        response = web.StreamResponse(headers={**headers, "Content-Type": content_type})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response


@asynccontextmanager
async def run_fleet(
    backends: Iterable[SimBackend],
    answer_book: AnswerBook | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    api_key: str | None = None,
    aws: SigV4Verifier | None = None,
    oauth: OAuthIssuer | None = None,
) -> AsyncIterator[SimFleet]:
    """Serve a fleet for the duration of the block; `fleet.base_url(platform, pool)` to probe."""
    fleet = SimFleet(backends, answer_book, seed=seed, api_key=api_key, aws=aws, oauth=oauth)
    await fleet.start(host, port)
    try:
        yield fleet
    finally:
        await fleet.close()
