"""A local AWS STS for IRSA: AssumeRoleWithWebIdentity, as EKS pods reach it through botocore.

The fleet plays both sides of IRSA: the cluster's OIDC issuer (`web_identity_token` mints the
RS256 JWT that Kubernetes projects into the pod) and STS, which verifies that token, checks the
role's trust (role ARN -> allowed `sub`) and issues temporary credentials (`ASIA...` key, secret,
session token, expiry on the simulator's clock). `SigV4Verifier` accepts those keys only with
their session token and until they expire. botocore reaches it through `AWS_ENDPOINT_URL_STS`;
answers are STS's query-protocol XML, which botocore parses with its own service model.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

from canary_sim.clock import utc_now

if TYPE_CHECKING:
    from canary_sim.server import SimFleet

STS_PATH = "/sts/"
STS_AUDIENCE = "sts.amazonaws.com"  # the audience EKS projects IRSA tokens for
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/CANARYSIM"
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
MIN_DURATION_S, MAX_DURATION_S = 900, 43_200
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


class StsError(Exception):
    """An STS refusal: HTTP status, error code and message, rendered as `<ErrorResponse>`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Temporary credentials STS issued: valid only with `token`, until `expires_at`."""

    secret: str
    token: str
    expires_at: datetime
    role_arn: str


@dataclass
class StsIssuer:
    """Roles it trusts (ARN -> service-account subject), sessions it issued, and its clock."""

    now: Callable[[], datetime] = utc_now
    lifetime_s: int = 3600  # when the caller sends no DurationSeconds (botocore does not)
    roles: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, SessionKey] = field(default_factory=dict)
    issued: int = 0
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        repr=False,
    )

    def trust(self, role_arn: str, subject: str) -> None:
        """Let pods running as `subject` (system:serviceaccount:NS:NAME) assume `role_arn`."""
        self.roles[role_arn] = subject

    def web_identity_token(
        self, subject: str, *, lifetime_s: int = 86_400, audience: str = STS_AUDIENCE
    ) -> str:
        """A projected service-account token as EKS writes it (negative lifetime: expired)."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer = crypt.RSASigner.from_string(pem, key_id="sim")  # type: ignore[no-untyped-call]  # google-auth is partly typed
        issued_at = int(self.now().timestamp())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": [audience],
            "iat": min(issued_at, issued_at + lifetime_s),
            "exp": issued_at + lifetime_s,
        }
        token: bytes = jwt.encode(signer, claims)  # type: ignore[no-untyped-call]  # as above
        return token.decode()

    def assume_role_with_web_identity(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Verify the web identity token and the role's trust; issue a session or raise StsError."""
        role_arn, token = form.get("RoleArn", ""), form.get("WebIdentityToken", "")
        if not role_arn or not token or not form.get("RoleSessionName"):
            raise StsError(
                400, "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required"
            )
        claims = self._verified_claims(token)
        if self.roles.get(role_arn) != claims.get("sub"):
            raise StsError(403, "AccessDenied", NOT_AUTHORIZED)
        duration_s = int(form.get("DurationSeconds", self.lifetime_s))
        if "DurationSeconds" in form and not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
            raise StsError(400, "ValidationError", "DurationSeconds is out of range")
        key_id = "ASIA" + "".join(
            secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)
        )
        session = SessionKey(
            secret=secrets.token_urlsafe(30)[:40],
            token=base64.b64encode(secrets.token_bytes(96)).decode(),
            expires_at=self.now().astimezone(UTC).replace(microsecond=0)
            + timedelta(seconds=duration_s),
            role_arn=role_arn,
        )
        self.sessions[key_id] = session
        self.issued += 1
        role_name = role_arn.rsplit("/", 1)[-1]
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "000000000000"
        return {
            "SubjectFromWebIdentityToken": claims["sub"],
            "Audience": STS_AUDIENCE,
            "Provider": ISSUER.removeprefix("https://"),
            "AssumedRoleUser": {
                "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{form['RoleSessionName']}",
                "AssumedRoleId": f"AROASIM{secrets.token_hex(6).upper()}:{form['RoleSessionName']}",
            },
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretAccessKey": session.secret,
                "SessionToken": session.token,
                "Expiration": session.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The token's claims if our issuer signed it for STS and it has not expired."""
        signed, _, signature = token.rpartition(".")
        try:
            claims: dict[str, Any] = jwt.decode(token, verify=False)  # type: ignore[no-untyped-call]  # google-auth is partly typed
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (ValueError, TypeError):
            raise StsError(400, "InvalidIdentityToken", "Couldn't parse the JWT.") from None
        verifier = crypt.RSAVerifier(self._key.public_key())  # type: ignore[no-untyped-call]  # as above
        if claims.get("iss") != ISSUER or not verifier.verify(signed.encode(), raw):
            raise StsError(
                400, "InvalidIdentityToken", "The web identity token signature is invalid."
            )
        audience = claims.get("aud")
        if STS_AUDIENCE not in (audience if isinstance(audience, list) else [audience]):
            raise StsError(400, "InvalidIdentityToken", "Incorrect token audience")
        now = self.now().astimezone(UTC)
        expires = datetime.fromtimestamp(float(claims.get("exp", 0)), UTC)
        if expires <= now:
            raise StsError(
                400,
                "ExpiredTokenException",
                f"Token expired: current date/time {now:%Y-%m-%dT%H:%M:%SZ} must be before the"
                f" expiration date/time {expires:%Y-%m-%dT%H:%M:%SZ}",
            )
        return claims


def _xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items())
    return escape(str(value))


def render_result(action: str, result: Mapping[str, Any]) -> str:
    """`<{action}Response>` with its `Result` and `ResponseMetadata`, as STS answers."""
    return (
        f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{_xml(dict(result))}'
        f"</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        f"</ResponseMetadata></{action}Response>"
    )


def render_error(error: StsError) -> str:
    """STS's query-protocol `<ErrorResponse>`."""
    kind = "Sender" if error.status < 500 else "Receiver"
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def routes(fleet: SimFleet) -> list[web.RouteDef]:
    """`POST /sts/` (set `AWS_ENDPOINT_URL_STS` to it) when the fleet's verifier has an STS."""

    async def handle(request: web.Request) -> web.Response:
        issuer = fleet.aws.sts if fleet.aws is not None else None
        if issuer is None:
            raise web.HTTPNotFound()
        form = {k: str(v) for k, v in (await request.post()).items()}
        action = form.get("Action", "")
        try:
            if action != "AssumeRoleWithWebIdentity":
                raise StsError(400, "InvalidAction", f"Could not find operation {action}")
            text = render_result(action, issuer.assume_role_with_web_identity(form))
            status = 200
        except StsError as error:
            text, status = render_error(error), error.status
        return web.Response(text=text, status=status, content_type="text/xml")

    return [web.post(STS_PATH, handle), web.post(STS_PATH.rstrip("/"), handle)]
