"""Clock-skew correction: put a client's event time on the server's clock (DESIGN §3).

R = received-at, C = the client's clock when it sent the request, E = an event's time, in ms.
Every event of a request is corrected by the same skew: R - C rounded to the nearest multiple
of a granularity (1 s by default), so that transit time, which R - C also holds and which
changes from one attempt to the next, neither "corrects" a client whose clock is right nor
gives a retry of a request other times than its first attempt. corrected = E + skew, clamped
to R when that lies more than a tolerance after R. This module fixes those per-request
constants; the per-event arithmetic (an addition and a comparison) is written out in
``RequestEvents.record``, where a call per event would cost more than the arithmetic.
"""

from __future__ import annotations


def trusted_client_time(received_at: int, client_time: int | None, max_skew_ms: int) -> bool:
    """Whether the client's clock C is known and within ``max_skew_ms`` of R."""
    return client_time is not None and -max_skew_ms <= received_at - client_time <= max_skew_ms


def rounded(skew_ms: int, granularity_ms: int) -> int:
    """``skew_ms`` to the nearest multiple of ``granularity_ms``, halves away from zero
    (a granularity of 0 or 1 keeps it exact)."""
    if granularity_ms <= 1:
        return skew_ms
    steps = (abs(skew_ms) + granularity_ms // 2) // granularity_ms
    return steps * granularity_ms if skew_ms >= 0 else -steps * granularity_ms


def request_skew(
    received_at: int, client_time: int | None, max_skew_ms: int, granularity_ms: int
) -> int:
    """R - C, rounded, for a trusted client time C; else 0."""
    if client_time is None or not trusted_client_time(received_at, client_time, max_skew_ms):
        return 0
    return rounded(received_at - client_time, granularity_ms)


def default_event_time(received_at: int, client_time: int | None, trusted: bool) -> int:
    """The time of an event sent without one: it was created when the request was sent, C,
    when C is trusted, else R."""
    return client_time if trusted and client_time is not None else received_at
