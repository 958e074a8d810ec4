"""Requests posted to the Events API as an SDK posts them: each retried after a 503 or a broken
connection until the worker answers 202, as Statsig's SDKs retry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from faults.load import InThread

KEY = "secret-dev-statsig-stream"
ATTEMPTS = 30


@dataclass
class Posted:
    accepted: list[bytes] = field(default_factory=list)
    """Bodies answered 202: each must come out."""
    unavailable: int = 0
    """Answers 503 (the broker did not acknowledge in time), each retried."""
    broken: int = 0
    """Attempts that got no answer (connection refused or reset), each retried."""
    given_up: int = 0
    """Bodies still refused after every attempt."""


async def _post_all(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> Posted:
    posted = Posted()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    pause = seconds * concurrency / max(1, len(bodies))
    # No client time: the skew is 0 for every attempt, so a retry's events are its first's.
    headers = {"statsig-api-key": KEY, "Content-Encoding": "gzip"}
    timeout = aiohttp.ClientTimeout(total=30)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            for attempt in range(ATTEMPTS):
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        if response.status == 202:
                            posted.accepted.append(body)
                            break
                        if response.status != 503:
                            raise RuntimeError(f"unexpected answer {response.status}")
                        posted.unavailable += 1
                except aiohttp.ClientConnectionError:
                    posted.broken += 1
                await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
            else:
                posted.given_up += 1
            await asyncio.sleep(pause)

    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return posted


def http_load(
    url: str, bodies: Sequence[bytes], seconds: float, concurrency: int = 8
) -> InThread[Posted]:
    """Post ``bodies`` to ``url`` over about ``seconds``, ``concurrency`` at a time."""
    return InThread("the HTTP load", lambda: _post_all(url, bodies, concurrency, seconds))
