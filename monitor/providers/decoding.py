"""Content-Encoding decoding bounded by the body cap, whatever the server stacks.

httpx inflates each received chunk in one call with no output limit, so a 1.8 KB body sent as
`Content-Encoding: gzip, gzip` expands to a gigabyte before the size cap sees a byte (a
decompression bomb: 2.2 GB RSS for `canary once`, the daemon's loop stalled for seconds). Here
every layer inflates at most `SLICE_BYTES` per call and counts what it produced against the
cap, so memory stays within the cap and the event loop gets control back between slices.
Only `gzip`, `deflate` and `identity` are accepted (the client asks for no other, see
`ACCEPT_ENCODING`); anything else is a protocol error, as is a body that will not inflate.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from monitor.errors import ProviderProtocolError

ACCEPT_ENCODING = "gzip, deflate"
SLICE_BYTES = 64 * 1024  # per inflate call: a fraction of a millisecond of CPU
MAX_LAYERS = 4  # `gzip, gzip, gzip, gzip` is already absurd; more is hostile


def encodings_of(header: str) -> list[str]:
    """The codings of a Content-Encoding header in the order they must be undone."""
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    return [c for c in reversed(codings) if c != "identity"]


class _Layer:
    """One coding, inflated incrementally; its output is counted against the cap."""

    def __init__(self, coding: str, cap: int) -> None:
        if coding in ("gzip", "x-gzip"):
            self._wbits = zlib.MAX_WBITS | 16
        elif coding == "deflate":
            self._wbits = 0  # zlib-wrapped (RFC 9110) or raw: told by the first two bytes
        else:
            raise ProviderProtocolError(f"unsupported Content-Encoding {coding!r}")
        self.coding = coding
        self._cap = cap
        self._produced = 0
        self._head = b""
        self._inflater = zlib.decompressobj(self._wbits or zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._wbits == 0:  # `deflate`: wait for the two bytes that tell zlib from raw
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            cmf, flg = data[0], data[1]
            wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0  # RFC 1950 header
            self._wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS  # many send it raw
            self._inflater = zlib.decompressobj(self._wbits)
        while data:
            try:
                out = self._inflater.decompress(data, SLICE_BYTES)
            except zlib.error as exc:
                raise ProviderProtocolError(
                    f"response body could not be decoded ({self.coding}): {exc}"
                ) from None
            self._produced += len(out)
            if self._produced > self._cap:
                raise ProviderProtocolError(
                    f"response body exceeds {self._cap} bytes once decoded ({self.coding})"
                )
            if out:
                yield out
            if self._inflater.eof:  # what follows is the next gzip member (or garbage)
                data = self._inflater.unused_data
                if data:
                    self._inflater = zlib.decompressobj(self._wbits)
            else:
                data = self._inflater.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if self._head:  # a one-byte `deflate` body: nothing a decoder can make of it
            raise ProviderProtocolError(f"response body could not be decoded ({self.coding})")
        out = self._inflater.flush()
        self._produced += len(out)
        if self._produced > self._cap:
            raise ProviderProtocolError(f"response body exceeds {self._cap} bytes once decoded")
        if out:
            yield out


class BoundedDecoder:
    """Undo a response's Content-Encoding layers with every layer's output capped at `cap`."""

    def __init__(self, content_encoding: str, cap: int) -> None:
        codings = encodings_of(content_encoding)
        if len(codings) > MAX_LAYERS:
            raise ProviderProtocolError(
                f"Content-Encoding stacks {len(codings)} codings (at most {MAX_LAYERS})"
            )
        self._layers = [_Layer(c, cap) for c in codings]

    @property
    def layered(self) -> bool:
        """Whether any coding is undone (an identity body passes through as it came)."""
        return bool(self._layers)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, each at most `SLICE_BYTES` (raises past the cap)."""
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """What the layers still hold at the end of the body."""
        for index, layer in enumerate(self._layers):
            for piece in layer.finish():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._through(index + 1, piece)
