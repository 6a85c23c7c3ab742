"""The SigV4 signer: AWS's published test vector, the injected clock and the session token."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.credentials import ReadOnlyCredentials

from monitor.providers.aws_auth import sign

# AWS Signature Version 4 test suite, "get-vanilla".
VANILLA = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
)
SUITE_CREDENTIALS = ReadOnlyCredentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None
)
SUITE_TIME = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)


def test_aws_test_suite_get_vanilla() -> None:
    """With the suite's key and clock, the signer reproduces AWS's published signature."""
    signed = sign(
        method="GET",
        url="https://example.amazonaws.com/",
        headers={"Host": "example.amazonaws.com"},
        body=b"",
        credentials=SUITE_CREDENTIALS,
        region="us-east-1",
        now=lambda: SUITE_TIME,
        service="service",
    )
    assert signed == {"Authorization": VANILLA, "X-Amz-Date": "20150830T123600Z"}


def test_session_token_is_signed_and_sent() -> None:
    """Temporary credentials add X-Amz-Security-Token, which is among the signed headers."""
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "secret", "session-token")
    signed = sign(
        method="POST",
        url="https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
        headers={"Host": "bedrock-runtime.us-east-1.amazonaws.com"},
        body=b"{}",
        credentials=credentials,
        region="us-east-1",
        now=lambda: SUITE_TIME,
    )
    assert signed["X-Amz-Security-Token"] == "session-token"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in signed["Authorization"]
    assert "secret" not in signed["Authorization"]
