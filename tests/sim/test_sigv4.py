"""The simulator's own SigV4 verifier against AWS's published vectors and botocore's signer.

`canary_sim.aws_sigv4` is written from the specification and shares no code with the daemon's
signer (`monitor.providers.aws_auth`), so these tests sign with botocore's `SigV4Auth` directly,
never through `monitor`: if the two implementations disagree, one of them is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from canary_sim.aws_sigv4 import MISMATCH, SigV4Verifier, signing_key
from canary_sim.records import SimError
from canary_sim.sts import SessionKey, StsIssuer

# AWS's SigV4 test suite ("get-vanilla", "get-vanilla-query-order-key-case") and the signing key
# example of the General Reference: published values, not outputs of any code in this repo.
EXAMPLE_KEY_ID = "AKIDEXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_AT = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
EXAMPLE_SIGNING_KEY = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"

KEY_ID = "AKIDSIMVERIFY0000001"
SECRET = "sim-verifier-secret-for-tests-only"
TOKEN = "FwoGZXIvYXdzESIMSESSIONTOKEN"
SESSION_KEY_ID = "ASIASIMSESSION000001"
HOST = "bedrock-runtime.us-east-1.amazonaws.com"
CONVERSE = f"https://{HOST}/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
BODY = b'{"messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]}'


@dataclass
class Signed:
    """A request as it reaches the simulator: method, URL as sent, headers and raw body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def botocore_signed(
    *,
    method: str = "POST",
    url: str = CONVERSE,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    token: str | None = None,
    secret: str = SECRET,
    key_id: str = KEY_ID,
) -> Signed:
    """Sign with botocore's `SigV4Auth` as is (its own clock), as an HTTP client would send it."""
    sent = {"Host": HOST, "Content-Type": "application/json", **(headers or {})}
    request = AWSRequest(method=method, url=url, data=body, headers=sent)
    SigV4Auth(ReadOnlyCredentials(key_id, secret, token), "bedrock", region).add_auth(request)
    return Signed(method, url, dict(request.headers.items()), body)


def verifier(now: Callable[[], datetime] | None = None) -> SigV4Verifier:
    """The simulator's verifier knowing the test key pair, on real time unless told otherwise."""
    return SigV4Verifier({KEY_ID: SECRET}, now=now or (lambda: datetime.now(UTC)))


def check(v: SigV4Verifier, signed: Signed, region: str = "us-east-1") -> None:
    v.verify(signed.method, signed.url, signed.headers, signed.body, region)


def test_signing_key_matches_the_published_example() -> None:
    """The key derivation reproduces the General Reference's example key for IAM."""
    key = signing_key(EXAMPLE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == EXAMPLE_SIGNING_KEY


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (
            "https://example.amazonaws.com/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
    ids=["get-vanilla", "get-vanilla-query-order-key-case"],
)
def test_published_vectors_verify(url: str, signature: str) -> None:
    """AWS's own test-suite requests, with their published signatures, pass; one hex digit
    changed does not."""
    v = SigV4Verifier({EXAMPLE_KEY_ID: EXAMPLE_SECRET}, now=lambda: EXAMPLE_AT, service="service")
    auth = (
        f"AWS4-HMAC-SHA256 Credential={EXAMPLE_KEY_ID}/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature="
    )
    headers = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
    v.verify("GET", url, {**headers, "Authorization": auth + signature}, b"", "us-east-1")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    with pytest.raises(SimError, match="does not match"):
        v.verify("GET", url, {**headers, "Authorization": auth + flipped}, b"", "us-east-1")
    assert v.verified == 1


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(botocore_signed, id="converse-model-id-with-colon"),
        pytest.param(lambda: botocore_signed(body=b""), id="empty-body"),
        pytest.param(lambda: botocore_signed(token=TOKEN), id="session-token-signed"),
        pytest.param(
            lambda: botocore_signed(method="GET", url=f"https://{HOST}/m?b=2&a=1&a=0"),
            id="query-sorted",
        ),
        pytest.param(
            lambda: botocore_signed(url=f"https://{HOST}/model/./x/../caf%C3%A9%20au%2Blait/invoke"),
            id="dot-segments-and-encoded-path",
        ),
        pytest.param(
            lambda: botocore_signed(headers={"X-Custom": "  a   b  c "}), id="header-whitespace"
        ),
        pytest.param(
            lambda: botocore_signed(
                headers={"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
            ),
            id="content-sha256-header",
        ),
        pytest.param(lambda: botocore_signed(url=f"http://{HOST}/model/m/invoke"), id="http"),
    ],
)
def test_accepts_what_botocore_signs(signed: Callable[[], Signed]) -> None:
    """Requests signed by botocore's SigV4Auth verify with the simulator's own code."""
    v = verifier()
    check(v, signed())
    assert v.verified == 1


def _tamper_header(s: Signed, name: str, value: str) -> Signed:
    return Signed(s.method, s.url, {**s.headers, name: value}, s.body)


def _shift_date(s: Signed, by: timedelta) -> Signed:
    at = datetime.strptime(s.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ") + by
    return _tamper_header(s, "X-Amz-Date", at.strftime("%Y%m%dT%H%M%SZ"))


def _rescope(s: Signed, region: str) -> Signed:
    auth = s.headers["Authorization"].replace("/us-east-1/", f"/{region}/")
    return _tamper_header(s, "Authorization", auth)


@pytest.mark.parametrize(
    ("tamper", "region", "message"),
    [
        (lambda s: Signed(s.method, s.url, s.headers, s.body + b" "), "us-east-1", MISMATCH),
        (
            lambda s: Signed(s.method, s.url, s.headers, s.body.replace(b"France", b"Spain")),
            "us-east-1",
            MISMATCH,
        ),
        (lambda s: _tamper_header(s, "Content-Type", "text/plain"), "us-east-1", MISMATCH),
        (lambda s: _tamper_header(s, "Host", "evil.example"), "us-east-1", MISMATCH),
        (lambda s: Signed("PUT", s.url, s.headers, s.body), "us-east-1", MISMATCH),
        (lambda s: Signed(s.method, s.url + "?x=1", s.headers, s.body), "us-east-1", MISMATCH),
        (
            lambda s: Signed(s.method, s.url.replace("converse", "invoke"), s.headers, s.body),
            "us-east-1",
            MISMATCH,
        ),
        (lambda s: _shift_date(s, timedelta(seconds=1)), "us-east-1", MISMATCH),
        (lambda s: _rescope(s, "us-west-2"), "us-west-2", MISMATCH),
        (lambda s: s, "us-west-2", "Credential should be scoped to a valid region"),
        (
            lambda s: _tamper_header(s, "X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
            "us-east-1",
            "x-amz-content-sha256",
        ),
        (
            lambda s: _tamper_header(
                s, "Authorization", s.headers["Authorization"].replace("host;", "")
            ),
            "us-east-1",
            "'Host' or ':authority' must be a 'SignedHeader'",
        ),
    ],
    ids=[
        "body-appended",
        "body-edited",
        "signed-header",
        "host",
        "method",
        "query-added",
        "path",
        "date-one-second",
        "region-rescoped",
        "region-of-backend",
        "unsigned-payload",
        "host-not-signed",
    ],
)
def test_rejects_a_tampered_request(
    tamper: Callable[[Signed], Signed], region: str, message: str
) -> None:
    """Changing the body, a signed header, the method, path, query, date or region after
    botocore signed is a 403."""
    v = verifier()
    with pytest.raises(SimError, match=message.replace("(", r"\(")) as error:
        check(v, tamper(botocore_signed()), region)
    assert error.value.status == 403
    assert v.verified == 0


def test_rejects_the_wrong_secret_and_an_unknown_key() -> None:
    """A signature made with another secret does not match; an unknown key id is unrecognised."""
    with pytest.raises(SimError, match="does not match"):
        check(verifier(), botocore_signed(secret="not-the-secret"))
    with pytest.raises(SimError, match="security token included in the request is invalid"):
        check(SigV4Verifier({"AKIDOTHER": SECRET}), botocore_signed())


@pytest.mark.parametrize(
    ("skew", "message"),
    [
        (timedelta(minutes=4, seconds=50), None),
        (timedelta(minutes=-4, seconds=-50), None),
        (timedelta(minutes=6), "Signature expired"),
        (timedelta(minutes=-6), "Signature not yet current"),
    ],
)
def test_clock_skew_over_five_minutes_is_refused(skew: timedelta, message: str | None) -> None:
    """The simulator's clock `skew` ahead of the signer: within five minutes passes, beyond fails."""
    signed = botocore_signed()
    v = verifier(now=lambda: datetime.now(UTC) + skew)
    if message is None:
        check(v, signed)
    else:
        with pytest.raises(SimError, match=message):
            check(v, signed)


def test_sts_session_keys_need_their_token_until_they_expire() -> None:
    """A key the fleet's STS issued verifies with its session token, not with another one, and
    not once it has expired on the simulator's clock."""
    now = datetime.now(UTC)
    sts = StsIssuer(now=lambda: now)
    sts.sessions[SESSION_KEY_ID] = SessionKey(
        SECRET, TOKEN, now + timedelta(hours=1), "arn:aws:iam::111122223333:role/canary"
    )
    good = botocore_signed(key_id=SESSION_KEY_ID, token=TOKEN)
    check(SigV4Verifier({}, now=lambda: now, sts=sts), good)
    with pytest.raises(SimError, match="security token included in the request is invalid"):
        check(
            SigV4Verifier({}, now=lambda: now, sts=sts),
            _tamper_header(good, "X-Amz-Security-Token", "another-token"),
        )
    with pytest.raises(SimError, match="security token included in the request is expired"):
        check(SigV4Verifier({}, now=lambda: now + timedelta(hours=2), sts=sts), good)
