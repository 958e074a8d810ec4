"""Clock-skew correction: put a client's event time on the server's clock (DESIGN §3)."""

from __future__ import annotations

from typing import NamedTuple


class CorrectedTime(NamedTuple):
    timestamp: int
    """The event time on the server's clock, in ms."""
    skew_ms: int
    """received-at minus client time; 0 when the client time is absent or not sane."""
    clamped: bool
    """True when the corrected time lay in the future and was pulled back to received-at."""


def request_skew(received_at: int, client_time: int | None, max_skew_ms: int) -> int:
    """R - C for a sane client time C (within ``max_skew_ms`` of R), else 0."""
    if client_time is None:
        return 0
    skew = received_at - client_time
    if -max_skew_ms <= skew <= max_skew_ms:
        return skew
    return 0


def correct_skew(
    event_time: int, skew_ms: int, received_at: int, future_tolerance_ms: int
) -> CorrectedTime:
    """E + skew, clamped to R when that lies more than the tolerance after R."""
    corrected = event_time + skew_ms
    if corrected > received_at + future_tolerance_ms:
        return CorrectedTime(received_at, skew_ms, True)
    return CorrectedTime(corrected, skew_ms, False)
