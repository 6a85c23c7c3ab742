"""The HTTP control API under `/_sim/`: inject and clear faults, read what they hit.

It mirrors `SimFleet`'s Python methods so that a scenario can be driven from another process
(the demo, a benchmark, curl) while the daemon probes the same server. Errors here are plain
`{"error": message}` JSON: this API belongs to the simulator, not to any vendor.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from canary_sim.faults import Fault

if TYPE_CHECKING:
    from canary_sim.server import SimFleet


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def routes(fleet: SimFleet) -> list[web.RouteDef]:
    """Route table bound to `fleet`."""

    async def post_fault(request: web.Request) -> web.Response:
        """Body `{"platform", "pool", "kind", "rate", ...params}`; replaces a same-kind fault."""
        try:
            data: Any = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _bad(400, f"invalid JSON: {exc}")
        if not isinstance(data, dict):
            return _bad(400, "expected a JSON object")
        platform, pool = data.pop("platform", None), data.pop("pool", None)
        if not isinstance(platform, str) or not isinstance(pool, str):
            return _bad(400, "`platform` and `pool` are required strings")
        if (platform, pool) not in fleet.backends:
            return _bad(404, f"no backend {platform}/{pool}")
        try:
            fault = Fault.from_json(data)
        except (TypeError, ValueError) as exc:
            return _bad(400, str(exc))
        fleet.set_fault(platform, pool, fault)
        return web.json_response({"platform": platform, "pool": pool, **fault.to_json()})

    async def delete_faults(request: web.Request) -> web.Response:
        """Query `platform`, `pool`, `kind`, each optional: no filter clears every fault."""
        query = request.query
        cleared = fleet.clear_faults(query.get("platform"), query.get("pool"), query.get("kind"))
        return web.json_response({"cleared": cleared})

    async def get_faults(request: web.Request) -> web.Response:
        del request
        return web.json_response({"faults": fleet.list_faults()})

    async def get_stats(request: web.Request) -> web.Response:
        del request
        return web.json_response({"seed": fleet.seed, "stats": fleet.stats()})

    async def delete_stats(request: web.Request) -> web.Response:
        del request
        fleet.reset_stats()
        return web.json_response({"reset": True})

    async def get_backends(request: web.Request) -> web.Response:
        del request
        return web.json_response(
            {
                "backends": [
                    {
                        "platform": b.platform,
                        "pool": b.pool,
                        "api": b.api,
                        "models": list(b.models),
                        "base_url": fleet.base_url(b.platform, b.pool),
                    }
                    for b in fleet.backends.values()
                ]
            }
        )

    return [
        web.post("/_sim/faults", post_fault),
        web.delete("/_sim/faults", delete_faults),
        web.get("/_sim/faults", get_faults),
        web.get("/_sim/stats", get_stats),
        web.delete("/_sim/stats", delete_stats),
        web.get("/_sim/backends", get_backends),
    ]
