"""Content-Encoding decoding under the size cap: round trips, bombs, and what is refused."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ProviderProtocolError
from monitor.providers.decoding import MAX_LAYERS, SLICE_BYTES, BoundedDecoder, encodings_of

CAP = 1 << 20
COMPRESS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "deflate": zlib.compress,
    "raw-deflate": lambda data: zlib.compress(data)[2:-4],  # what many servers send as deflate
}


def decode(header: str, data: bytes, *, step: int = 1000, cap: int = CAP) -> bytes:
    decoder = BoundedDecoder(header, cap)
    out = b"".join(p for i in range(0, len(data), step) for p in decoder.feed(data[i : i + step]))
    return out + b"".join(decoder.finish())


@given(
    data=st.binary(max_size=5000),
    layers=st.lists(st.sampled_from(sorted(COMPRESS)), min_size=0, max_size=3),
    step=st.integers(min_value=1, max_value=4096),
)
def test_stacked_codings_round_trip(data: bytes, layers: list[str], step: int) -> None:
    """Any stack of gzip and deflate (zlib or raw) decodes back to the body, however the
    bytes are cut into chunks."""
    wire = data
    for coding in layers:
        wire = COMPRESS[coding](wire)
    header = ", ".join("deflate" if c == "raw-deflate" else c for c in layers)
    assert decode(header, wire, step=step) == data


def test_concatenated_gzip_members() -> None:
    """A gzip body of several members is the members' bodies joined (RFC 1952)."""
    assert decode("gzip", gzip.compress(b"Par") + gzip.compress(b"is")) == b"Paris"


@pytest.mark.parametrize("header", ["gzip, gzip", "deflate, deflate", "gzip, deflate, gzip"])
def test_bomb_stops_at_the_cap_with_memory_flat(header: str) -> None:
    """A body inflating to 256 MiB is refused once past the cap; no more than about the cap
    is ever held (it was the whole inflated body, layer by layer)."""
    wire = b" " * (1 << 28)
    for coding in reversed([c.strip() for c in header.split(",")]):
        wire = COMPRESS[coding](wire)
    tracemalloc.start()
    try:
        with pytest.raises(ProviderProtocolError, match=f"exceeds {CAP} bytes once decoded"):
            decode(header, wire, step=len(wire))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CAP + 8 * SLICE_BYTES, peak


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("br", "unsupported Content-Encoding 'br'"),
        ("gzip, zstd", "unsupported Content-Encoding 'zstd'"),
        (", ".join(["gzip"] * (MAX_LAYERS + 1)), f"stacks {MAX_LAYERS + 1} codings"),
    ],
)
def test_refused_codings(header: str, message: str) -> None:
    """Codings we never asked for, and absurd stacks, are protocol errors before any work."""
    with pytest.raises(ProviderProtocolError, match=message):
        BoundedDecoder(header, CAP)


def test_corrupt_body_is_a_protocol_error() -> None:
    """A gzip body that does not inflate says so, naming the coding."""
    with pytest.raises(ProviderProtocolError, match=r"could not be decoded \(gzip\)"):
        decode("gzip", b"\x1f\x8b\x08\x00garbage-not-deflate")


def test_identity_and_order() -> None:
    """`identity` is no layer; codings are undone last-applied first."""
    assert encodings_of("gzip, identity, deflate") == ["deflate", "gzip"]
    assert decode("identity", b"plain") == b"plain"
    assert decode("", b"plain") == b"plain"
