"""Load beside the faults: raw requests produced steadily, and a busy process on the CPU."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

from aiokafka import AIOKafkaProducer

Header = tuple[str, bytes]
T = TypeVar("T")

SLICES = 20


async def _produce(bootstrap: str, topic: str, bodies: Sequence[bytes], seconds: float) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=1024 * 1024,
        request_timeout_ms=60_000,
    )
    await producer.start()
    try:
        step = max(1, len(bodies) // SLICES)
        started = time.monotonic()
        for index, start in enumerate(range(0, len(bodies), step)):
            acks = [await producer.send(topic, body) for body in bodies[start : start + step]]
            await asyncio.gather(*acks)
            pause = started + (index + 1) * seconds / SLICES - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
    finally:
        await producer.stop()


class InThread(Generic[T]):
    """A coroutine run to its end in a thread of its own (beside the synchronous harness); its
    result, or its error, is given by :meth:`join`."""

    def __init__(self, what: str, work: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._what = what
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)

    def _run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> None:
        try:
            self._result = asyncio.run(work())
        except BaseException as exc:  # reported by join()
            self._error = exc

    def start(self) -> InThread[T]:
        self._thread.start()
        return self

    def join(self, timeout: float) -> T:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._what} did not finish within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"{self._what} failed: {self._error!r}") from self._error
        return cast(T, self._result)


def steady_producer(
    bootstrap: str, topic: str, bodies: Sequence[bytes], seconds: float
) -> InThread[None]:
    """Produce ``bodies`` to ``topic`` spread over ``seconds``, every message acknowledged by
    the broker (acks=all) before it ends."""
    return InThread("the producer", lambda: _produce(bootstrap, topic, bodies, seconds))


@contextmanager
def busy_cpu(enabled: bool = True) -> Iterator[None]:
    """A process spinning on one core while the block runs (stopped by its pid after)."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()
