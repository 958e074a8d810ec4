"""Hostile inputs, by name, with what each must become: records, dead letters by reason, and the
HTTP status ingress answers. Small cases are files in tests/data/hostile/; large ones are made
here, on demand, because they are large."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
GZIP = {"content-encoding": "gzip"}
EVENT = {"eventName": "e", "user": {"userID": "u"}}


@dataclass(frozen=True)
class HostileInput:
    name: str
    make: Callable[[], bytes]
    records: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        return self.make()


def _file(name: str) -> Callable[[], bytes]:
    return lambda: (HOSTILE / name).read_bytes()


@cache
def _gzip_bomb() -> bytes:
    """256 MiB of JSON that gzips to a quarter of a megabyte."""
    inner = b'{"events": [{"eventName": "' + b"a" * (256 * 1024 * 1024) + b'"}]}'
    return gzip.compress(inner, compresslevel=9)


def _deep_nesting() -> bytes:
    depth = 100_000
    return (
        json.dumps({"events": [{**EVENT, "metadata": {"deep": None}}]})
        .encode()
        .replace(b"null", b"[" * depth + b"]" * depth)
    )


def _ten_megabyte_string() -> bytes:
    return json.dumps({"events": [{**EVENT, "value": "x" * 10_000_000}]}).encode()


@cache
def _hundred_thousand_events() -> bytes:
    events = [{**EVENT, "time": 1_699_999_000_000 + i} for i in range(100_000)]
    return json.dumps({"events": events}).encode()


WRONG_TYPES = len(json.loads((HOSTILE / "wrong_types.json").read_bytes())["events"])

CORPUS = [
    HostileInput(
        "truncated_gzip", _file("truncated.gz"), dead_letters={"invalid_encoding": 1}, headers=GZIP
    ),
    HostileInput(
        "corrupt_gzip", _file("corrupt.gz"), dead_letters={"invalid_encoding": 1}, headers=GZIP
    ),
    HostileInput("gzip_bomb", _gzip_bomb, dead_letters={"payload_too_large": 1}, headers=GZIP),
    HostileInput("deep_nesting", _deep_nesting, dead_letters={"invalid_json": 1}),
    HostileInput(
        "ten_megabyte_string", _ten_megabyte_string, dead_letters={"payload_too_large": 1}
    ),
    HostileInput("hundred_thousand_events", _hundred_thousand_events, records=100_000),
    HostileInput("non_utf8", _file("non_utf8.json"), dead_letters={"invalid_json": 1}),
    HostileInput("nan_and_infinity", _file("nan_infinity.json"), dead_letters={"invalid_json": 1}),
    # JSON's last duplicate wins, as in every mainstream parser: one event "second" of user v.
    HostileInput("duplicate_keys", _file("duplicate_keys.json"), records=1),
    HostileInput(
        "events_not_a_list", _file("events_not_a_list.json"), dead_letters={"invalid_request": 1}
    ),
    HostileInput(
        "wrong_types", _file("wrong_types.json"), dead_letters={"invalid_event": WRONG_TYPES}
    ),
]
