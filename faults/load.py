"""Load beside the faults: raw requests produced steadily, and a busy process on the CPU."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiokafka import AIOKafkaProducer

Header = tuple[str, bytes]

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


class SteadyProducer:
    """Produce ``bodies`` to ``topic`` spread over ``seconds``, in a thread of its own; every
    message acknowledged by the broker (acks=all) before the thread ends."""

    def __init__(self, bootstrap: str, topic: str, bodies: Sequence[bytes], seconds: float):
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(bootstrap, topic, bodies, seconds), daemon=True
        )

    def _run(self, bootstrap: str, topic: str, bodies: Sequence[bytes], seconds: float) -> None:
        try:
            asyncio.run(_produce(bootstrap, topic, bodies, seconds))
        except BaseException as exc:  # reported by join()
            self.error = exc

    def start(self) -> SteadyProducer:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the producer did not finish within {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"the producer failed: {self.error!r}") from self.error


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
