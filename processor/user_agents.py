"""Browser, OS and device of a ``userAgent``, with ua-parser and the uap-core rules it ships.

ua-parser takes its fastest resolver: ``ua-parser-rs`` (Rust regexes, about 20 µs per agent),
which the project depends on, else Python's ``re`` (milliseconds per agent). Callers cache the
result per distinct string (``processor.enrichment``).
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from ua_parser import BestAvailableResolver, Domain, Resolver, load_lazy_builtins

MAX_AGENT_LENGTH = 1_024
"""Real agents are a few hundred characters; longer text is not parsed: every rule would scan
it, and a cache keyed by it could be filled with large strings."""


class AgentFields(NamedTuple):
    browserName: str | None
    browserVersion: str | None
    osName: str | None
    osVersion: str | None
    deviceModel: str | None


@cache
def agent_resolver() -> Resolver:
    """Built at first use: loading the rules takes a few tenths of a second."""
    return BestAvailableResolver(load_lazy_builtins())


def _version(major: str | None, *rest: str | None) -> str | None:
    """The parts up to the first missing one, dotted: ("120", "0", None) gives "120.0"."""
    if major is None:
        return None
    parts = [major]
    for part in rest:
        if part is None:
            break
        parts.append(part)
    return ".".join(parts)


def agent_fields(agent: str) -> AgentFields | None:
    """What the agent says, None when it says nothing ua-parser knows; never raises."""
    if not agent or len(agent) > MAX_AGENT_LENGTH:
        return None
    try:
        result = agent_resolver()(agent, Domain.ALL)
    except UnicodeEncodeError:
        # A lone surrogate: no JSON decode yields one, but the Rust resolver cannot take it.
        return None
    browser, os, device = result.user_agent, result.os, result.device
    if browser is None and os is None and (device is None or device.model is None):
        return None
    return AgentFields(
        None if browser is None else browser.family,
        None
        if browser is None
        else _version(browser.major, browser.minor, browser.patch, browser.patch_minor),
        None if os is None else os.family,
        None if os is None else _version(os.major, os.minor, os.patch, os.patch_minor),
        None if device is None else device.model,
    )
