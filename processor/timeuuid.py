"""Deterministic version-1 timeUUIDs (DESIGN §3, RFC 9562 §5.1 and §6.10).

The timestamp is the corrected event time. The other 74 bits (sub-millisecond ticks, clock
sequence, node) come from a BLAKE2b digest of the event's identity, so a redelivered request
gets the same UUIDs and a consumer can drop duplicates by timeUUID.

The digest is taken once per request over (key id, body) and each event adds its index to it
modulo 2**61 over the clock-sequence and node bits: within a request the UUIDs are distinct
by construction, and across requests they agree only if 61 random bits and the tick agree.
"""

from __future__ import annotations

import hashlib
import re
import uuid

#: 100 ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch.
_GREGORIAN_OFFSET = 0x01B21DD213814000
_TICKS_PER_MS = 10_000
_MASK_61 = (1 << 61) - 1
_VERSION_1 = 0x1000
#: RFC 9562 §6.10: a random node id sets the multicast bit (40); the variant is 0b10 (63-62).
_VARIANT_AND_MULTICAST = 0x8000_0100_0000_0000
#: The bits of the 61 that land above the multicast bit: 47 fill the node around it, 14 the
#: clock sequence.
_ABOVE_NODE_BITS = _MASK_61 & ~0xFF_FFFF_FFFF
#: An odd multiplier spreads consecutive indexes across the node bits (a bijection mod 2**61).
_INDEX_STRIDE = 0x9E3779B97F4A7C15 & _MASK_61 | 1
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def request_identity(key_id: str, body: bytes) -> bytes:
    """16 bytes identifying a request: the same (key id, decompressed body) always yields the
    same identity, whenever and however often it is sent (DESIGN §3)."""
    hasher = hashlib.blake2b(key_id.encode(), digest_size=16, person=b"statsig-timeuuid")
    hasher.update(b"\x00")
    hasher.update(body)
    return hasher.digest()


def request_digest(key_id: str, body: bytes) -> int:
    """The request's identity as the 128-bit number its events' timeUUIDs are built from."""
    return int.from_bytes(request_identity(key_id, body), "big")


class TimeUuids:
    """The timeUUIDs of one request's events: what they share is computed once per request.

    Text is built from ``int.to_bytes().hex()``, cheaper than ``%x`` formatting; the middle
    groups (time_mid, time_hi) change only every 2**32 ticks (about 7 minutes), so a request
    formats them once for all its events.
    """

    __slots__ = ("_low", "_middles", "_stamp_base")

    def __init__(self, digest: int) -> None:
        self._stamp_base = _GREGORIAN_OFFSET + (digest >> 64) % _TICKS_PER_MS
        self._low = digest & _MASK_61
        self._middles: dict[int, str] = {}

    def _middle(self, high: int) -> str:
        """``-time_mid-time_hi_and_version-`` for the stamp bits above the low 32."""
        text = "-%04x-%04x-" % (high & 0xFFFF, (high >> 16) & 0x0FFF | _VERSION_1)  # noqa: UP031
        self._middles[high] = text
        return text

    def at(self, timestamp_ms: int, index: int) -> str:
        """The timeUUID of event ``index`` at ``timestamp_ms``."""
        stamp = timestamp_ms * _TICKS_PER_MS + self._stamp_base
        high = stamp >> 32
        middle = self._middles.get(high) or self._middle(high)
        low = (self._low + index * _INDEX_STRIDE) & _MASK_61
        # Clock sequence and node, 64 bits: the top 21 of the 61 bits move up one place to
        # make room for the multicast bit (40), the variant takes the top two bits.
        tail = low + (low & _ABOVE_NODE_BITS) | _VARIANT_AND_MULTICAST
        return (
            (stamp & 0xFFFFFFFF).to_bytes(4, "big").hex()
            + middle
            + tail.to_bytes(8, "big").hex("-", 6)
        )


def time_uuid(timestamp_ms: int, digest: int, index: int) -> str:
    """The timeUUID of event ``index`` of the request with ``digest``, at ``timestamp_ms``."""
    return TimeUuids(digest).at(timestamp_ms, index)


def parse_uuid(text: str) -> bool:
    """True when a client-supplied timeUUID is a UUID in the text form of RFC 9562 §4 (seed 002:
    ``format: uuid``), in which case it is kept as sent. ``uuid.UUID`` alone is too lenient: it
    also takes signs, spaces and ``0x`` in the digits."""
    return _UUID_TEXT.fullmatch(text) is not None


def uuid_time_ms(text: str) -> int:
    """The Unix millisecond a version-1 UUID carries (the inverse of ``time_uuid``'s timestamp)."""
    return (uuid.UUID(text).time - _GREGORIAN_OFFSET) // _TICKS_PER_MS
