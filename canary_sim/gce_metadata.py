"""A local GCE metadata server, as GKE workload identity presents it to a pod.

google-auth's application default credentials fall back to the metadata server: it pings
`http://$GCE_METADATA_IP/` (a `Metadata-Flavor: Google` header on the answer means "on Google
Cloud"), reads the service account from `instance/service-accounts/default/?recursive=true`
and fetches access tokens from `.../token`. Tokens come from the fleet's `OAuthIssuer`, so the
Vertex routes accept them until they expire. Like the real server it refuses requests without
`Metadata-Flavor: Google`, and answers 404 when no workload identity is bound
(`OAuthIssuer.workload_email` unset). Point google-auth at it with `GCE_METADATA_HOST` and
`GCE_METADATA_IP` set to the fleet's `host:port` (read when google-auth is imported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from canary_sim.google_oauth import OAuthIssuer

if TYPE_CHECKING:
    from canary_sim.server import SimFleet

ROOT = "/computeMetadata/v1/"
PROJECT_ID = "sim-project"
FLAVOR = {"Metadata-Flavor": "Google"}
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def routes(fleet: SimFleet) -> list[web.RouteDef]:
    """The metadata paths google-auth reads, answered only when workload identity is bound."""

    def issuer(request: web.Request) -> OAuthIssuer:
        oauth = fleet.oauth
        if oauth is None or oauth.workload_email is None:
            raise web.HTTPNotFound()
        if request.headers.get("Metadata-Flavor") != "Google":
            raise web.HTTPForbidden(text="Missing required header: Metadata-Flavor\n")
        return oauth

    def account(request: web.Request) -> OAuthIssuer:
        oauth = issuer(request)
        if request.match_info["account"] not in ("default", oauth.workload_email):
            raise web.HTTPNotFound()
        return oauth

    def text(body: str) -> web.Response:
        return web.Response(text=body, content_type="application/text", headers=FLAVOR)

    async def ping(request: web.Request) -> web.Response:
        issuer(request)
        return text("computeMetadata/\n")

    async def info(request: web.Request) -> web.Response:
        oauth = account(request)
        if request.query.get("recursive") != "true":
            return text("aliases\nemail\nidentity\nscopes\ntoken\n")
        body = {"aliases": ["default"], "email": oauth.workload_email, "scopes": list(SCOPES)}
        return web.json_response(body, headers=FLAVOR)

    async def email(request: web.Request) -> web.Response:
        return text(str(account(request).workload_email))

    async def token(request: web.Request) -> web.Response:
        return web.json_response(account(request).mint(), headers=FLAVOR)

    async def project(request: web.Request) -> web.Response:
        issuer(request)
        return text(PROJECT_ID)

    async def universe(request: web.Request) -> web.Response:
        issuer(request)
        return text("googleapis.com")

    accounts = ROOT + "instance/service-accounts/{account}/"
    return [
        web.get("/", ping),
        web.get(accounts, info),
        web.get(accounts + "email", email),
        web.get(accounts + "token", token),
        web.get(ROOT + "project/project-id", project),
        web.get(ROOT + "universe/universe-domain", universe),
    ]
