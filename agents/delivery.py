"""Deliver a batch's output to Kafka and wait for every acknowledgement, retrying failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import NamedTuple

from faust.types import ProducerT

log = logging.getLogger(__name__)

Header = tuple[str, bytes]


class Outgoing(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: list[Header]
    partition: int | None = None
    """None: the producer's partitioner picks one from the key."""


class DeliveryFailed(RuntimeError):
    """Some output of a batch could not be delivered after every retry."""


async def _send_all(producer: ProducerT, messages: Sequence[Outgoing]) -> list[Outgoing]:
    """Send, wait for all acknowledgements, return the messages that failed."""
    futures: list[asyncio.Future[object]] = []
    failed: list[Outgoing] = []
    sent: list[Outgoing] = []
    for message in messages:
        try:
            futures.append(
                await producer.send(
                    message.topic,
                    message.key,
                    message.value,
                    message.partition,
                    None,
                    message.headers,
                )  # type: ignore[arg-type]
            )
            sent.append(message)
        except Exception as exc:  # the producer refused it outright; try again later
            log.warning("send to %s refused: %r", message.topic, exc)
            failed.append(message)
    results = await asyncio.gather(*futures, return_exceptions=True)
    failed.extend(
        message
        for message, result in zip(sent, results, strict=True)
        if isinstance(result, BaseException)
    )
    return failed


async def deliver(producer: ProducerT, messages: Sequence[Outgoing], retries: int) -> None:
    """Return only once the broker has acknowledged every message; raise after ``retries``."""
    pending = messages
    for attempt in range(retries + 1):
        pending = await _send_all(producer, pending)
        if not pending:
            return
        delay = min(0.1 * 2**attempt, 5.0)
        log.warning("%d messages not acknowledged; retrying in %.1f s", len(pending), delay)
        await asyncio.sleep(delay)
    raise DeliveryFailed(f"{len(pending)} messages not acknowledged after {retries} retries")
