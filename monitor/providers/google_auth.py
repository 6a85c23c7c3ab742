"""OAuth2 bearer tokens for Vertex AI from google-auth, behind an `httpx.Auth`.

A service-account file (`target.credentials_file`) or application default credentials
(workload identity, `gcloud auth application-default login`, the metadata server). google-auth
refreshes synchronously over `requests`, so a refresh runs in a thread; the token is reused
until google-auth considers it expired (it refreshes a few minutes early). Failures become
ProviderHTTPError naming only the exception type: token endpoint replies can echo assertions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import Any

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
import httpx
from google.oauth2 import service_account

from monitor.errors import ProviderHTTPError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class TokenSource:
    """Credentials for one service-account file (None: ADC), loaded on first use."""

    def __init__(self, credentials_file: str | None = None) -> None:
        self.credentials_file = credentials_file
        self._credentials: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self.credentials_file is not None:
            return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]  # google-auth is partly typed
                self.credentials_file, scopes=list(SCOPES)
            )
        credentials, _project = google.auth.default(scopes=list(SCOPES))
        return credentials

    def _token(self) -> str:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._load()
            if not self._credentials.valid:
                self._credentials.refresh(google.auth.transport.requests.Request())
            token = self._credentials.token
        if not isinstance(token, str):
            raise ProviderHTTPError("google-auth returned no access token")
        return token

    async def __call__(self) -> str:
        """A valid access token, refreshed in a thread when expired."""
        try:
            return await asyncio.to_thread(self._token)
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as exc:
            raise ProviderHTTPError(
                f"Google credentials unavailable: {type(exc).__name__}"
            ) from None


_SOURCES: dict[str | None, TokenSource] = {}


def source_for(credentials_file: str | None) -> TokenSource:
    """One token source per credentials file for the whole process, so tokens are shared."""
    if credentials_file not in _SOURCES:
        _SOURCES[credentials_file] = TokenSource(credentials_file)
    return _SOURCES[credentials_file]


def reset_sources() -> None:
    """Forget every token source and its cached token (tests; the environment changed)."""
    _SOURCES.clear()


class GoogleBearer(httpx.Auth):
    """Adds `Authorization: Bearer <access token>` to each request."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.source()}"
        yield request
