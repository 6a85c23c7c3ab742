"""A local OAuth2 token endpoint for the Vertex routes, as Google's works for service accounts.

`service_account_info(token_uri)` mints a key pair and returns a service-account JSON whose
`token_uri` points here; google-auth then posts a signed JWT assertion (jwt-bearer grant),
which the endpoint verifies with the public key before issuing an opaque access token with
a lifetime. `authorized_user_info` does the same for `gcloud auth application-default login`
files (refresh_token grant), and `gce_metadata` hands out tokens from the same issuer. The
Vertex routes accept only issued, unexpired tokens (simulator clock), and answer anything
else with Google's 401 UNAUTHENTICATED.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from canary_sim.clock import utc_now
from canary_sim.records import SimError

GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth's fixed `aud` claim
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_TOKEN = "refresh_token"
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential."
)


class TokenRequestError(Exception):
    """A token request refused with an OAuth error code (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class OAuthIssuer:
    """Service accounts it trusts (email -> public key PEM), tokens it issued, and its clock."""

    now: Callable[[], datetime] = utc_now
    lifetime_s: int = 3600
    public_keys: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> client id, secret
    tokens: dict[str, datetime] = field(default_factory=dict)
    issued: int = 0
    workload_email: str | None = None  # the metadata server's service account; None: not GKE

    def service_account_info(
        self, token_uri: str, email: str = "canary@sim-project.iam.gserviceaccount.com"
    ) -> dict[str, Any]:
        """A fresh service-account JSON (as `gcloud iam service-accounts keys create` writes)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.public_keys[email] = public
        return {
            "type": "service_account",
            "project_id": "sim-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": private,
            "client_email": email,
            "client_id": "1" + "".join(secrets.choice("0123456789") for _ in range(20)),
            "token_uri": token_uri,
        }

    def authorized_user_info(self, token_uri: str) -> dict[str, Any]:
        """A fresh `authorized_user` ADC JSON (as `gcloud auth application-default login`)."""
        client_id = secrets.token_hex(6) + "-sim.apps.googleusercontent.com"
        client_secret = "GOCSPX-" + secrets.token_urlsafe(21)
        refresh = "1//sim-" + secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = (client_id, client_secret)
        return {
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh,
            "token_uri": token_uri,
        }

    def mint(self) -> dict[str, Any]:
        """Issue an access token valid for `lifetime_s` on the simulator's clock."""
        token = "ya29.sim-" + secrets.token_urlsafe(24)
        self.tokens[token] = self.now().astimezone(UTC) + timedelta(seconds=self.lifetime_s)
        self.issued += 1
        return {"access_token": token, "expires_in": self.lifetime_s, "token_type": "Bearer"}

    def grant(self, form: Mapping[str, str], audience: str) -> dict[str, Any]:
        """Verify a jwt-bearer assertion or a refresh token and issue an access token.

        Raises TokenRequestError (an RFC 6749 error code) when the grant is refused.
        """
        if form.get("grant_type") == REFRESH_TOKEN:
            client = self.refresh_tokens.get(form.get("refresh_token", ""))
            if client is None or client != (form.get("client_id"), form.get("client_secret")):
                raise TokenRequestError("invalid_grant", "Bad Request")
            return self.mint()
        if form.get("grant_type") != JWT_BEARER:
            raise TokenRequestError("unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, verify=False)  # type: ignore[no-untyped-call]  # google-auth is partly typed
            public = self.public_keys.get(str(claims.get("iss")))
            if public is None:
                raise TokenRequestError("invalid_grant", "Invalid JWT: unknown issuer.")
            jwt.decode(assertion, certs=public, audience=[GOOGLE_AUDIENCE, audience])  # type: ignore[no-untyped-call]  # as above
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            raise TokenRequestError("invalid_grant", "Invalid JWT Signature.") from None
        return self.mint()

    def check(self, headers: Mapping[str, str]) -> None:
        """401 unless the request carries an issued token that has not expired."""
        auth = headers.get("Authorization", "")
        expiry = self.tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None
        if expiry is None or expiry <= self.now().astimezone(UTC):
            raise SimError(401, "authentication", UNAUTHENTICATED, code="UNAUTHENTICATED")
