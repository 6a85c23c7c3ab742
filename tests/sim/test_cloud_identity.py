"""Cloud identities the daemon gets on EKS and GKE, end to end against the simulated fleet.

Bedrock: IRSA (a projected web identity token, STS AssumeRoleWithWebIdentity, temporary keys
with a session token) and shared profiles, through botocore's own chain. Vertex: application
default credentials from `GOOGLE_APPLICATION_CREDENTIALS` (service account, authorized user)
and GKE workload identity through the metadata server. Every probe goes through the runner, so
a refusal shows up as the outcome and error a user would see.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from canary_sim import AnswerBook, SimFleet, run_fleet
from canary_sim.aws_sigv4 import SigV4Verifier
from canary_sim.cloud import token_uri
from canary_sim.gce_metadata import ROOT
from canary_sim.google_oauth import OAuthIssuer
from canary_sim.sts import STS_PATH, StsIssuer
from monitor.config import Target
from monitor.config.probes import ProbeSuite
from monitor.errors import ProviderHTTPError
from monitor.providers import bedrock
from monitor.providers.aws_auth import reset_chains
from monitor.providers.google_auth import reset_sources
from monitor.providers.http import build_client
from monitor.runner import execute_probe
from monitor.types import Outcome, Result
from tests.providers.fakes import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, make_target
from tests.sim.cloud import BEDROCK_MODEL, CLOUD_BACKENDS, Clock
from tests.sim.conftest import CAPITAL, PROBES
from tests.sim.google_proxy import intercepting_proxy
from tests.sim.test_cloud_auth import REQUEST, signer
from tests.test_cli import canary

ROLE = "arn:aws:iam::123456789012:role/canary-monitor"
SUBJECT = "system:serviceaccount:canary:canary-monitor"
WORKLOAD_EMAIL = "canary-wi@sim-project.iam.gserviceaccount.com"
SUITE = ProbeSuite.model_validate(
    {
        "suite": "core",
        "version": 1,
        "probes": [
            {
                "name": "capital",
                "reason": "top-token integrity",
                "prompt": CAPITAL,
                "expect": {"answer": {"exact": "Paris"}},
            }
        ],
    }
)
AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
GOOGLE_ENV = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")


@pytest.fixture(autouse=True)
def fresh_credentials() -> Iterator[None]:
    """No credential chain or token source cached by another test, none left for the next."""
    reset_chains()
    reset_sources()
    yield
    reset_chains()
    reset_sources()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fleet(clock: Clock) -> AsyncIterator[SimFleet]:
    """Bedrock pools that accept the static key and STS-issued keys; Vertex pools with OAuth."""
    issuer = StsIssuer(now=clock)
    issuer.trust(ROLE, SUBJECT)
    aws = SigV4Verifier({AWS_ACCESS_KEY_ID: AWS_SECRET_ACCESS_KEY}, now=clock, sts=issuer)
    oauth = OAuthIssuer(now=clock, workload_email=WORKLOAD_EMAIL)
    book = AnswerBook.from_probe_dir(PROBES)
    async with run_fleet(CLOUD_BACKENDS, book, aws=aws, oauth=oauth) as running:
        yield running


def sts(fleet: SimFleet) -> StsIssuer:
    assert fleet.aws is not None and fleet.aws.sts is not None
    return fleet.aws.sts


def oauth(fleet: SimFleet) -> OAuthIssuer:
    assert fleet.oauth is not None
    return fleet.oauth


@pytest.fixture
def aws_env(fleet: SimFleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Nothing from the host's AWS setup; STS is the fleet's. Returns a directory for files."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{fleet.port}{STS_PATH}")
    return tmp_path


@pytest.fixture
def google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ADC from the host (gcloud's config dir is empty). Returns a directory for files."""
    for name in GOOGLE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return tmp_path


def irsa(fleet: SimFleet, monkeypatch: pytest.MonkeyPatch, directory: Path, **token: Any) -> str:
    """What the EKS pod identity webhook injects: a projected token file and the role ARN.

    Returns the token."""
    role = token.pop("role", ROLE)
    path = directory / "eks.amazonaws.com" / "serviceaccount" / "token"
    path.parent.mkdir(parents=True)
    text = sts(fleet).web_identity_token(token.pop("subject", SUBJECT), **token)
    path.write_text(text)
    monkeypatch.setenv("AWS_ROLE_ARN", role)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(path))
    return text


def bedrock_target(fleet: SimFleet, **overrides: Any) -> Target:
    return make_target(
        api="bedrock_converse",
        api_key=None,
        platform="bedrock",
        region="us-east-1",
        model_id=BEDROCK_MODEL,
        base_url=fleet.base_url("bedrock", "us-east-1"),
        **overrides,
    )


def vertex_target(fleet: SimFleet, **overrides: Any) -> Target:
    return make_target(
        api="vertex_gemini",
        api_key=None,
        platform="vertex",
        project="sim-project",
        location="us-east5",
        model_id="gemini-2.0-flash-001",
        base_url=fleet.base_url("vertex", "gemini"),
        **overrides,
    )


async def probe(target: Target) -> Result:
    """One probe through the runner, as the scheduler would run it."""
    async with build_client(target) as client:
        return await execute_probe(client, target, SUITE, SUITE.probes[0], "run")


def passed(result: Result) -> bool:
    return result.outcome is Outcome.PASSED and result.reply is not None


# Bedrock: IRSA -------------------------------------------------------------------------------


async def test_irsa_web_identity_signs_with_temporary_keys(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token file is traded at STS once; the session key and token then sign each probe."""
    irsa(fleet, monkeypatch, aws_env)
    first, second = await probe(bedrock_target(fleet)), await probe(bedrock_target(fleet))
    assert passed(first) and passed(second), (first.error, second.error)
    ((key, session),) = sts(fleet).sessions.items()
    assert key.startswith("ASIA") and session.role_arn == ROLE
    assert sts(fleet).issued == 1 and fleet.aws is not None and fleet.aws.verified == 2


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (
            {"subject": "system:serviceaccount:other:default"},
            "ProviderHTTPError: AWS credentials unavailable: AccessDenied",
        ),
        (
            {"role": "arn:aws:iam::123456789012:role/not-trusted"},
            "ProviderHTTPError: AWS credentials unavailable: AccessDenied",
        ),
        (
            {"lifetime_s": -60},
            "ProviderHTTPError: AWS credentials unavailable: ExpiredTokenException",
        ),
        (
            {"audience": "https://kubernetes.default.svc"},
            "ProviderHTTPError: AWS credentials unavailable: InvalidIdentityToken",
        ),
    ],
    ids=["wrong-service-account", "wrong-role", "expired-token", "wrong-audience"],
)
async def test_irsa_refusal_is_an_http_error(
    fleet: SimFleet,
    aws_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    token: dict[str, Any],
    error: str,
) -> None:
    """STS refusing the web identity is an http_error naming STS's code, and no request is sent."""
    irsa(fleet, monkeypatch, aws_env, **token)
    result = await probe(bedrock_target(fleet))
    assert (result.outcome, result.error) == (Outcome.HTTP_ERROR, error)
    assert sts(fleet).issued == 0 and fleet.aws is not None and fleet.aws.verified == 0


async def test_irsa_missing_token_file(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web identity token file that is not mounted is an http_error, not a crash."""
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(aws_env / "not-mounted"))
    result = await probe(bedrock_target(fleet))
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.error == "ProviderHTTPError: AWS credentials unavailable: FileNotFoundError"


async def test_expired_session_credentials_are_rejected(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """Session keys the platform considers expired (its clock moved 2 h) are AWS's 403."""
    irsa(fleet, monkeypatch, aws_env)
    assert passed(await probe(bedrock_target(fleet)))
    clock.offset = timedelta(hours=2)
    result = await probe(bedrock_target(fleet))
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.error == (
        "ProviderHTTPError: HTTP 403: ExpiredTokenException: The security token included in"
        " the request is expired"
    )


async def test_session_key_without_its_token_is_rejected(fleet: SimFleet) -> None:
    """An STS key signed with another session token than its own is AWS's 403."""
    issued = sts(fleet).assume_role_with_web_identity(
        {
            "RoleArn": ROLE,
            "RoleSessionName": "t",
            "WebIdentityToken": sts(fleet).web_identity_token(SUBJECT),
        }
    )["Credentials"]
    target = bedrock_target(fleet)
    auth = signer(key=issued["AccessKeyId"], secret=issued["SecretAccessKey"])
    async with build_client(target) as client:
        with pytest.raises(ProviderHTTPError) as caught:
            await bedrock.CONVERSE.send(client, target, REQUEST, stream=False, auth=auth)
    assert str(caught.value) == (
        "HTTP 403: UnrecognizedClientException: The security token included in the request"
        " is invalid."
    )


async def test_short_lived_session_is_refreshed(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions inside botocore's 15-minute refresh window are renewed before the next probe."""
    sts(fleet).lifetime_s = 900
    irsa(fleet, monkeypatch, aws_env)
    assert passed(await probe(bedrock_target(fleet)))
    assert passed(await probe(bedrock_target(fleet)))
    assert sts(fleet).issued == 2 and len(sts(fleet).sessions) == 2


# Bedrock: shared profile ---------------------------------------------------------------------


async def test_shared_credentials_profile(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aws_profile` picks a section of AWS_SHARED_CREDENTIALS_FILE; other sections are unused."""
    path = aws_env / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIDDEFAULTNOTUSED00\n"
        "aws_secret_access_key = not-the-right-secret\n\n"
        f"[canary]\naws_access_key_id = {AWS_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {AWS_SECRET_ACCESS_KEY}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    result = await probe(bedrock_target(fleet, aws_profile="canary"))
    assert passed(result), result.error
    default = await probe(bedrock_target(fleet))
    assert default.outcome is Outcome.HTTP_ERROR
    assert "UnrecognizedClientException" in (default.error or "")


async def test_config_profile_with_web_identity(
    fleet: SimFleet, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile in AWS_CONFIG_FILE can itself name the role and the token file."""
    irsa(fleet, monkeypatch, aws_env)
    token_file = os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"]
    monkeypatch.delenv("AWS_ROLE_ARN")
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE")
    config = aws_env / "config"
    config.write_text(
        f"[profile canary]\nrole_arn = {ROLE}\nweb_identity_token_file = {token_file}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert passed(await probe(bedrock_target(fleet, aws_profile="canary")))
    assert sts(fleet).issued == 1


async def test_unknown_profile_is_an_http_error(fleet: SimFleet, aws_env: Path) -> None:
    """A profile that no file defines is an http_error naming botocore's exception type."""
    result = await probe(bedrock_target(fleet, aws_profile="nope"))
    assert (result.outcome, result.error) == (
        Outcome.HTTP_ERROR,
        "ProviderHTTPError: AWS credentials unavailable: ProfileNotFound",
    )


# Vertex: application default credentials -----------------------------------------------------


@pytest.fixture
async def google_token_host(
    fleet: SimFleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[None]:
    """oauth2.googleapis.com answered by the fleet, through an HTTPS proxy `requests` trusts.

    google-auth always posts authorized_user refreshes there, whatever the file's token_uri.
    """
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    async with intercepting_proxy("oauth2.googleapis.com", fleet.port, ca) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
        yield


def adc_file(fleet: SimFleet, directory: Path, kind: str) -> Path:
    """An ADC JSON of `kind` that the fleet's token endpoint honours."""
    issuer = oauth(fleet)
    info = (
        issuer.service_account_info(token_uri(fleet))
        if kind == "service_account"
        else issuer.authorized_user_info(token_uri(fleet))
    )
    path = directory / "adc.json"
    path.write_text(json.dumps(info))
    return path


@pytest.mark.parametrize("kind", ["service_account", "authorized_user"])
@pytest.mark.usefixtures("google_token_host")
async def test_adc_file(
    fleet: SimFleet, google_env: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """GOOGLE_APPLICATION_CREDENTIALS of either kind gets a token from the fleet, reused once."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_file(fleet, google_env, kind)))
    first, second = await probe(vertex_target(fleet)), await probe(vertex_target(fleet))
    assert passed(first) and passed(second), (first.error, second.error)
    assert oauth(fleet).issued == 1


@pytest.mark.usefixtures("google_token_host")
async def test_adc_revoked_refresh_token(
    fleet: SimFleet, google_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh token the endpoint no longer honours is an http_error, not a crash."""
    path = adc_file(fleet, google_env, "authorized_user")
    oauth(fleet).refresh_tokens.clear()
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    result = await probe(vertex_target(fleet))
    assert (result.outcome, result.error) == (
        Outcome.HTTP_ERROR,
        "ProviderHTTPError: Google credentials unavailable: RefreshError",
    )


@pytest.mark.usefixtures("google_token_host")
async def test_adc_short_lived_token_is_refreshed(
    fleet: SimFleet, google_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token the issuer gives 60 s is inside google-auth's margin: refreshed for each probe."""
    oauth(fleet).lifetime_s = 60
    path = adc_file(fleet, google_env, "authorized_user")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    assert passed(await probe(vertex_target(fleet)))
    assert passed(await probe(vertex_target(fleet)))
    assert oauth(fleet).issued == 2


# Vertex: GKE workload identity (the metadata server) -----------------------------------------


async def test_metadata_server_requires_flavor_header(fleet: SimFleet) -> None:
    """Like GCE's, the metadata server refuses requests without `Metadata-Flavor: Google`."""
    url = f"http://127.0.0.1:{fleet.port}{ROOT}instance/service-accounts/default/token"
    async with httpx.AsyncClient() as client:
        refused = await client.get(url)
        token = await client.get(url, headers={"Metadata-Flavor": "Google"})
        oauth(fleet).workload_email = None
        unbound = await client.get(url, headers={"Metadata-Flavor": "Google"})
    assert (refused.status_code, token.status_code, unbound.status_code) == (403, 200, 404)
    assert token.headers["Metadata-Flavor"] == "Google"
    assert set(token.json()) == {"access_token", "expires_in", "token_type"}


def gke_config(fleet: SimFleet, directory: Path) -> Path:
    """A config with one Vertex target and no credentials_file: ADC, hence the metadata server."""
    (directory / "probes.yaml").write_text(SUITE_YAML)
    path = directory / "canary.yaml"
    path.write_text(
        "targets:\n"
        "  - platform: vertex\n    pool: gemini\n    model: gemini-flash\n"
        "    api: vertex_gemini\n    model_id: gemini-2.0-flash-001\n"
        "    project: sim-project\n    location: us-east5\n"
        f"    base_url: {fleet.base_url('vertex', 'gemini')}\n"
        "suites:\n  - file: probes.yaml\n"
    )
    return path


SUITE_YAML = (
    "suite: core\nversion: 1\nprobes:\n  - name: capital\n    reason: top-token integrity\n"
    f"    prompt: {json.dumps(CAPITAL)}\n    expect: {{answer: {{exact: Paris}}}}\n"
)


async def test_workload_identity_via_metadata_server(
    fleet: SimFleet, google_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`canary once` with no key file on "GKE": google-auth finds the metadata server and the
    probe passes. A subprocess, because google-auth reads GCE_METADATA_HOST at import."""
    host = f"127.0.0.1:{fleet.port}"
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setenv("GCE_METADATA_IP", host)
    config = gke_config(fleet, google_env)
    code, out, err = await canary("once", "--config", str(config), "--json")
    assert code == 0, out + err
    assert json.loads(out.splitlines()[0])["outcome"] == "passed"
    assert oauth(fleet).issued == 1


async def test_workload_identity_unbound_is_an_http_error(
    fleet: SimFleet, google_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a node whose metadata server has no workload identity, ADC finds nothing: http_error."""
    host = f"127.0.0.1:{fleet.port}"
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setenv("GCE_METADATA_IP", host)
    oauth(fleet).workload_email = None
    code, out, err = await canary("once", "--config", str(gke_config(fleet, google_env)), "--json")
    record = json.loads(out.splitlines()[0])
    assert code == 1, out + err
    assert (record["outcome"], record["error"]) == (
        "http_error",
        "ProviderHTTPError: Google credentials unavailable: DefaultCredentialsError",
    )


# Secrets ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("google_token_host")
async def test_no_identity_secret_reaches_logs_or_results(
    fleet: SimFleet,
    aws_env: Path,
    google_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even at DEBUG (botocore, urllib3, google-auth), neither the web identity token, the STS
    keys, the refresh token nor an access token is logged or kept with a result."""
    caplog.set_level(logging.DEBUG)
    web_identity = irsa(fleet, monkeypatch, aws_env)
    adc = adc_file(fleet, google_env, "authorized_user")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    results = [await probe(bedrock_target(fleet)), await probe(vertex_target(fleet))]
    assert all(passed(r) for r in results), [r.error for r in results]
    ((_key, session),) = sts(fleet).sessions.items()
    ((refresh_token, (_client_id, client_secret)),) = oauth(fleet).refresh_tokens.items()
    secrets = [
        web_identity,
        session.secret,
        session.token,
        refresh_token,
        client_secret,
        *oauth(fleet).tokens,
    ]
    outputs = caplog.text + "".join(repr(r) for r in results)
    assert "AssumeRoleWithWebIdentity" in caplog.text  # the debug log did run
    assert [s[:12] for s in secrets if s in outputs] == []
