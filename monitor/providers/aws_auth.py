"""AWS SigV4 for Bedrock: botocore's signer and credential chain, behind an `httpx.Auth`.

Credentials come from botocore's chain (environment, shared profile, web identity for IRSA,
container and instance roles) and are resolved per request, in a thread because the chain may
call STS or the metadata service; botocore refreshes temporary credentials itself. The signer
is `SigV4Auth` with two changes: the clock is injected (tests sign "ten minutes ago" without
sleeping), and nothing is logged, because botocore's debug log of the canonical request
includes `X-Amz-Security-Token`; botocore's DEBUG logs of STS payloads are filtered for the
same reason.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import UTC, datetime

import botocore.session
import httpx
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

from monitor.errors import ProviderHTTPError

SERVICE = "bedrock"
SIGNED_OUTPUT_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
Clock = Callable[[], datetime]
CredentialSource = Callable[[], Awaitable[ReadOnlyCredentials]]


class _NoPayloadDebug(logging.Filter):
    """Drops botocore's DEBUG records of request params and response bodies: for IRSA's
    AssumeRoleWithWebIdentity they hold the web identity token and the temporary keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


for _name in ("botocore.endpoint", "botocore.parsers"):
    logging.getLogger(_name).addFilter(_NoPayloadDebug())


def utc_now() -> datetime:
    return datetime.now(UTC)


class ClockedSigV4Auth(SigV4Auth):
    """`SigV4Auth` with an injected clock and no logging of the canonical request."""

    def __init__(
        self, credentials: ReadOnlyCredentials, service: str, region: str, now: Clock
    ) -> None:
        super().__init__(credentials, service, region)
        self._now = now

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._now().astimezone(UTC).strftime(SIGV4_TIMESTAMP)
        # botocore-stubs omit SigV4Auth's private steps; these are the ones add_auth runs.
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: ReadOnlyCredentials,
    region: str,
    now: Clock = utc_now,
    service: str = SERVICE,
) -> dict[str, str]:
    """The SigV4 headers (Authorization, X-Amz-Date, maybe X-Amz-Security-Token) for a request.

    Every header in `headers` is signed (botocore skips User-Agent and Expect).
    """
    aws = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    ClockedSigV4Auth(credentials, service, region, now).add_auth(aws)
    return {name: aws.headers[name] for name in SIGNED_OUTPUT_HEADERS if name in aws.headers}


class CredentialChain:
    """botocore's default chain for one profile (None: no profile), resolved lazily."""

    def __init__(self, profile: str | None = None) -> None:
        self.profile = profile
        self._session: botocore.session.Session | None = None
        self._lock = threading.Lock()

    def _resolve(self) -> ReadOnlyCredentials:
        with self._lock:
            if self._session is None:
                self._session = botocore.session.Session(profile=self.profile)
            credentials = self._session.get_credentials()
        if credentials is None:
            raise ProviderHTTPError("no AWS credentials found (env, profile, web identity, role)")
        return credentials.get_frozen_credentials()

    async def __call__(self) -> ReadOnlyCredentials:
        """Frozen credentials, refreshed by botocore when temporary ones are near expiry.

        Failures become ProviderHTTPError naming only the exception type, or the service's
        error code (STS's AccessDenied for an untrusted role): botocore messages can quote
        profile contents. OSError: an unreadable web identity token file.
        """
        try:
            return await asyncio.to_thread(self._resolve)
        except (BotoCoreError, ClientError, OSError) as exc:
            reason = type(exc).__name__
            if isinstance(exc, ClientError):
                reason = exc.response.get("Error", {}).get("Code") or reason
            raise ProviderHTTPError(f"AWS credentials unavailable: {reason}") from None


_CHAINS: dict[str | None, CredentialChain] = {}


def chain_for(profile: str | None) -> CredentialChain:
    """One chain per profile for the whole process, so botocore's credential cache is shared."""
    if profile not in _CHAINS:
        _CHAINS[profile] = CredentialChain(profile)
    return _CHAINS[profile]


def reset_chains() -> None:
    """Forget every chain and its cached credentials (tests; the environment changed)."""
    _CHAINS.clear()


class SigV4(httpx.Auth):
    """Signs each request as it is sent, body included, with fresh credentials."""

    requires_request_body = True

    def __init__(self, region: str, credentials: CredentialSource, now: Clock = utc_now) -> None:
        self.region = region
        self.credentials = credentials
        self.now = now

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        credentials = await self.credentials()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "connection"}
        signed = sign(
            method=request.method,
            url=str(request.url),
            headers=headers,
            body=request.content,
            credentials=credentials,
            region=self.region,
            now=self.now,
        )
        request.headers.update(signed)
        yield request
