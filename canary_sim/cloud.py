"""Platform authentication for the simulated fleet: SigV4 for Bedrock, OAuth for Vertex.

`authenticate` picks the check by the backend's API, as the platform would: Bedrock pools
verify the SigV4 signature for the backend's region (its `region`, else its pool name), Vertex
pools need a token from the fleet's `/oauth2/token` endpoint or its metadata server, Azure
deployments an `api-key` header and an `api-version`, and the rest take the fleet's API key.
A fleet without an `aws` verifier or `oauth` issuer skips that check. Temporary AWS keys come
from the fleet's STS (`sts.py`), workload-identity tokens from `gce_metadata.py`.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web

from canary_sim import gce_metadata, sts, transport
from canary_sim.google_oauth import TokenRequestError
from canary_sim.records import SimError, WireFormat

if TYPE_CHECKING:
    from canary_sim.server import SimBackend, SimFleet

TOKEN_PATH = "/oauth2/token"
GOOGLE_TOKEN_PATH = "/token"  # oauth2.googleapis.com's own path, reached through a proxy
AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide"
    " a valid key for an active subscription and use a correct regional API endpoint for your"
    " resource."
)


def authenticate(
    fleet: SimFleet, request: web.Request, wire: WireFormat, backend: SimBackend, raw: bytes
) -> None:
    """Raise `SimError` unless the request is authenticated the way its platform requires."""
    if wire.api.startswith("bedrock_"):
        if fleet.aws is not None:
            url = f"{request.scheme}://{request.headers.get('Host', '')}{request.raw_path}"
            region = backend.region or backend.pool
            fleet.aws.verify(request.method, url, request.headers, raw, region)
    elif wire.api.startswith("vertex_"):
        if fleet.oauth is not None:
            fleet.oauth.check(request.headers)
    elif wire.api == "azure_openai_chat":
        if not request.query.get("api-version"):
            raise SimError(404, "not_found", "Resource not found")
        if fleet.api_key is not None and not hmac.compare_digest(
            request.headers.get("api-key", ""), fleet.api_key
        ):
            raise SimError(401, "authentication", AZURE_DENIED, code="401")
    else:
        transport.check_auth(fleet.api_key, request.headers, wire)


def token_uri(fleet: SimFleet) -> str:
    host = "127.0.0.1" if fleet.host in ("", "0.0.0.0") else fleet.host
    return f"http://{host}:{fleet.port}{TOKEN_PATH}"


def routes(fleet: SimFleet) -> list[web.RouteDef]:
    """The OAuth2 token endpoint (RFC 6749 shape), STS and the GCE metadata server."""

    async def token(request: web.Request) -> web.Response:
        if fleet.oauth is None:
            raise web.HTTPNotFound()
        form = {k: str(v) for k, v in (await request.post()).items()}
        audience = f"{request.scheme}://{request.headers.get('Host', '')}{request.path}"
        try:
            return web.json_response(fleet.oauth.grant(form, audience))
        except TokenRequestError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            return web.json_response(body, status=400)

    return [
        web.post(TOKEN_PATH, token),
        web.post(GOOGLE_TOKEN_PATH, token),
        *sts.routes(fleet),
        *gce_metadata.routes(fleet),
    ]
