"""HTTP reads of partitioned state: ask the workers that own the partitions, merge the answers.

Every metric key and every Console event name lives in one partition of the partials topic
(``processor.metrics.key_partition``); the worker that consumes that partition holds its table
values. A read names the partitions it needs; each owner answers for its own (the same request
with ``local=<partitions>``), and the view merges the lists. Reads of one key ask one worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Any

import aiohttp
from faust.web import Request
from yarl import URL

from agents.app import app
from agents.topics import metric_partials

log = logging.getLogger(__name__)

LOCAL = "local"
_TIMEOUT = aiohttp.ClientTimeout(total=10)

LocalRead = Callable[[set[int]], list[Any]]
"""Answers from this worker's tables for the given partitions, as JSON-ready builtins."""


def owned_partitions() -> set[int]:
    """The partials partitions this worker consumes now, i.e. its tables' active partitions."""
    topic = metric_partials.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def local_partitions(request: Request) -> set[int] | None:
    """The partitions a ``local=`` request asks this worker for; None for a client's read."""
    raw = request.query.get(LOCAL)
    if raw is None:
        return None
    wanted = {int(part) for part in raw.split(",") if part.isdigit()}
    return wanted & owned_partitions()


def _owners(partitions: Collection[int]) -> dict[str, set[int]] | None:
    """Owner URL -> the wanted partitions it holds; None while some partition has no owner."""
    topic = metric_partials.get_topic_name()
    owners: dict[str, set[int]] = {}
    distribution = app.router.external_topics_metadata()
    for url, topics in distribution.items():
        held = set(topics.get(topic, ())) & set(partitions)
        if held:
            owners[str(url)] = held
    covered = set().union(*owners.values()) if owners else set()
    return owners if covered >= set(partitions) else None


async def read_from_owners(
    request: Request, partitions: Collection[int], local: LocalRead
) -> list[list[Any]] | None:
    """Each owner's answer for its share of ``partitions``; None if some owner cannot answer."""
    owners = _owners(partitions)
    if owners is None:
        return None
    me = str(app.conf.canonical_url)

    async def ask(url: str, held: set[int]) -> list[Any]:
        if url == me:
            return local(held)
        query = {**request.query, LOCAL: ",".join(map(str, sorted(held)))}
        target = URL(url).with_path(request.url.path).with_query(query)
        async with app.http_client.get(target, timeout=_TIMEOUT) as response:
            response.raise_for_status()
            answer = await response.json()
            if not isinstance(answer, list):
                raise ValueError(f"{target} answered {type(answer).__name__}, not a list")
            return answer

    try:
        return list(await asyncio.gather(*(ask(url, held) for url, held in owners.items())))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("a partition owner did not answer %s: %r", request.url.path, exc)
        return None
