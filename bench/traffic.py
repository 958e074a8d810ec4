"""Live traffic for the end-to-end sections: sample requests sent now, stamped as ingress would.

The core sections use fixed bodies of a fixed past (``bench.workload``); a running worker needs
current event times, or its metric windows would take every event for a late one (closed
windows drop all but a count). Bodies are regenerated before their events fall out of the
metrics grace period, so a long soak stays realistic too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.broker import Header
from bench.workload import EVENTS_PER_REQUEST
from processor.samples import sample_requests

CLIENT_BEHIND_MS = 1_500
"""The sending client's clock runs this far behind the server's."""
DISTINCT_BODIES = 200
SESSION = b'"sessionID":"'
REFRESH_SECONDS = 120.0
"""Well inside the metrics grace period (300 s by default)."""


def stamped_headers(received_at_ms: int) -> list[Header]:
    """What HTTP ingress adds to a request that arrived at ``received_at_ms``."""
    return [
        ("statsig-client-time", str(received_at_ms - CLIENT_BEHIND_MS).encode()),
        ("statsig-received-at", str(received_at_ms).encode()),
        ("statsig-source", b"log_event"),
        ("statsig-key-id", b"key-bench-0001"),
    ]


def recent_bodies(count: int = DISTINCT_BODIES, seed: int = 0) -> list[bytes]:
    """``count`` bodies of ``EVENTS_PER_REQUEST`` events sent by a client just now."""
    client_now = int(time.time() * 1000) - CLIENT_BEHIND_MS
    return sample_requests(count, EVENTS_PER_REQUEST, seed=seed, now_ms=client_now)


def numbered(body: bytes, number: int) -> bytes:
    """``body`` made a request of its own: its session id prefixed with ``number``.

    Two sends of one body are one request to the worker, whose dedup window (on by default)
    emits the second not at all; real clients never send the same events twice but on a retry,
    so every request the bench sends must differ. Making each one afresh would cost the load
    generator more than the worker spends on it.
    """
    if SESSION not in body:
        raise ValueError("the body has no statsigMetadata.sessionID to number")
    return body.replace(SESSION, SESSION + b"%d-" % number, 1)


class LiveBodies:
    """Request bodies whose events stay recent: regenerated every ``REFRESH_SECONDS``."""

    def __init__(self, count: int = DISTINCT_BODIES) -> None:
        self._count = count
        self._generation = 0
        self._bodies = recent_bodies(count)
        self._made = time.monotonic()

    def current(self) -> Sequence[bytes]:
        if time.monotonic() - self._made > REFRESH_SECONDS:
            self._generation += 1
            self._bodies = recent_bodies(self._count, seed=self._generation)
            self._made = time.monotonic()
        return self._bodies

    def body(self, number: int) -> bytes:
        """The ``number``-th request to send: a current body, numbered to be one of its own."""
        current = self.current()
        return numbered(current[number % len(current)], number)
