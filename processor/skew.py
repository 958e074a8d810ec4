"""Clock-skew correction: put a client's event time on the server's clock (DESIGN §3).

R = received-at, C = the client's clock when it sent the request, E = an event's time, in ms.
Every event of a request is corrected by the same skew R - C: corrected = E + skew, clamped to
R when that lies more than a tolerance after R. This module fixes those per-request constants;
the per-event arithmetic (an addition and a comparison) is written out in
``RequestEvents.record``, where a call per event would cost more than the arithmetic.
"""

from __future__ import annotations


def request_skew(received_at: int, client_time: int | None, max_skew_ms: int) -> int:
    """R - C for a sane client time C (within ``max_skew_ms`` of R), else 0."""
    if client_time is None:
        return 0
    skew = received_at - client_time
    if -max_skew_ms <= skew <= max_skew_ms:
        return skew
    return 0


def default_event_time(received_at: int, client_time: int | None, skew_ms: int) -> int:
    """The time of an event sent without one: it was created when the request was sent, C,
    when C is known and sane, else R."""
    if client_time is not None and (skew_ms or client_time == received_at):
        return client_time
    return received_at
