"""Inflate gzip/deflate bodies with a hard cap, so a compression bomb costs at most the cap."""

from __future__ import annotations

import zlib

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class BodyEncodingError(ValueError):
    """The body cannot be decoded with the content-encoding it claims."""


class BodyTooLargeError(ValueError):
    """The body inflates to more than the allowed number of bytes."""


def _inflate(body: bytes, wbits: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BodyEncodingError(f"corrupt compressed body: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise BodyTooLargeError(f"body inflates past the limit of {max_bytes} bytes")
    if not inflater.eof:
        raise BodyEncodingError("truncated compressed body")
    if inflater.unused_data:
        raise BodyEncodingError("trailing bytes after the compressed body")
    return out


def decompress_body(body: bytes, content_encoding: str, max_bytes: int) -> bytes:
    """Return the body as JSON bytes, inflating it when ``content_encoding`` says so."""
    if content_encoding in ("identity", ""):
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"body of {len(body)} bytes exceeds the limit of {max_bytes}")
        return body
    if content_encoding in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP_WBITS, max_bytes)
    if content_encoding == "deflate":
        # HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate: accept both.
        try:
            return _inflate(body, _ZLIB_WBITS, max_bytes)
        except BodyEncodingError:
            return _inflate(body, _RAW_DEFLATE_WBITS, max_bytes)
    raise BodyEncodingError(f"unsupported content-encoding {content_encoding!r}")
