"""Named fixtures for provider tests; the fakes themselves live in fakes.py."""

from __future__ import annotations

import pytest

from tests.providers.fakes import Endpoint


@pytest.fixture
def endpoint() -> Endpoint:
    """A fresh fake endpoint answering `200 {}` until a test sets its status, body and headers."""
    return Endpoint()
