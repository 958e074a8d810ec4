"""The input the sections measure: realistic request bodies with the headers ingress adds."""

from __future__ import annotations

from functools import lru_cache

from processor.samples import sample_requests

NOW_MS = 1_750_000_000_000
EVENTS_PER_REQUEST = 50
REQUESTS = 400
SEED = 0

#: Received 250 ms after the client sent it, by a client whose clock is 1.5 s behind.
HEADERS: dict[str, bytes] = {
    "statsig-client-time": str(NOW_MS - 1_500).encode(),
    "statsig-received-at": str(NOW_MS + 250).encode(),
    "statsig-source": b"log_event",
    "statsig-key-id": b"key-bench-0001",
}
RECORD_TIMESTAMP_MS = NOW_MS + 260


@lru_cache(maxsize=2)
def request_bodies(web: bool = False) -> tuple[bytes, ...]:
    """``REQUESTS`` bodies of ``EVENTS_PER_REQUEST`` events each, the same on every run;
    ``web``: the users carry public ips and browser agents (the enrichment's input)."""
    return tuple(sample_requests(REQUESTS, EVENTS_PER_REQUEST, seed=SEED, now_ms=NOW_MS, web=web))
